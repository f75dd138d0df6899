package amodal

import (
	"context"
	"time"

	"github.com/body4d/body4d/engine"
)

// timedEngine adds up the time spent inside the wrapped engine.
type timedEngine struct {
	engine.Engine
	ns int64
}

func (e *timedEngine) Run(ctx context.Context, in map[string]*engine.Tensor) (map[string]*engine.Tensor, error) {
	start := time.Now()
	out, err := e.Engine.Run(ctx, in)
	e.ns += time.Since(start).Nanoseconds()
	return out, err
}
