#!/usr/bin/env python3
"""filterpy side of bench.sh: 5 people × 1,000 frames × 204 parameters, one
KalmanFilter + batch_filter + rts_smoother per parameter, as a user would
write it. Prints the wall time in seconds."""
import sys
import time

import numpy as np
from filterpy.kalman import KalmanFilter

people, frames, dims = (int(a) for a in sys.argv[1:4]) if len(sys.argv) > 3 else (5, 1000, 204)
rng = np.random.default_rng(1)
data = rng.normal(size=(people, frames, dims))

start = time.perf_counter()
out = np.empty_like(data)
for p in range(people):
    for d in range(dims):
        kf = KalmanFilter(dim_x=2, dim_z=1)
        kf.F = np.array([[1.0, 1.0], [0.0, 1.0]])
        kf.H = np.array([[1.0, 0.0]])
        kf.Q = np.diag([1e-4, 1e-6])
        kf.R = np.array([[1e-2]])
        kf.x = np.array([[data[p, 0, d]], [0.0]])
        kf.P = np.eye(2)
        mu, cov, _, _ = kf.batch_filter(data[p, :, d])
        xs, _, _, _ = kf.rts_smoother(mu, cov)
        out[p, :, d] = xs[:, 0, 0]
print(f"{time.perf_counter() - start:.6f}")
