package batch

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Shard is one worker's part of a list: Index in [0, Count).
type Shard struct{ Index, Count int }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard parses "I/N".
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q is not I/N", s)
	}
	ii, err1 := strconv.Atoi(i)
	nn, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q is not I/N with integers", s)
	}
	return checkShard(Shard{ii, nn}, "--shard "+s)
}

func checkShard(s Shard, from string) (Shard, error) {
	if s.Count < 1 {
		return Shard{}, fmt.Errorf("%s: shard count %d must be ≥ 1", from, s.Count)
	}
	if s.Index < 0 || s.Index >= s.Count {
		return Shard{}, fmt.Errorf("%s: shard index %d is outside 0..%d", from, s.Index, s.Count-1)
	}
	return s, nil
}

// ShardFromEnv finds this worker's shard from an array-job engine's
// environment. shards is the count given by --shards or BODY4D_SHARDS
// (0: not given); Kubernetes needs it, as it passes only the index. It
// returns the shard and which engine it came from, or ok=false when no
// engine's variables are set.
func ShardFromEnv(getenv func(string) string, shards int) (s Shard, from string, ok bool, err error) {
	num := func(key string) (int, error) {
		v, err := strconv.Atoi(strings.TrimSpace(getenv(key)))
		if err != nil {
			return 0, fmt.Errorf("%s=%q is not an integer", key, getenv(key))
		}
		return v, nil
	}
	pair := func(idxKey, cntKey, name string) (Shard, string, bool, error) {
		i, err := num(idxKey)
		if err != nil {
			return Shard{}, name, true, err
		}
		n := shards
		if n == 0 {
			if getenv(cntKey) == "" {
				return Shard{}, name, true, fmt.Errorf("%s is set but %s is not (give --shards N)", idxKey, cntKey)
			}
			if n, err = num(cntKey); err != nil {
				return Shard{}, name, true, err
			}
		}
		s, err := checkShard(Shard{i, n}, name)
		return s, name, true, err
	}
	switch {
	case getenv("JOB_COMPLETION_INDEX") != "":
		if shards == 0 {
			return Shard{}, "kubernetes", true, fmt.Errorf("JOB_COMPLETION_INDEX is set but the shard count is not: give --shards N or BODY4D_SHARDS (Kubernetes does not pass it)")
		}
		return pair("JOB_COMPLETION_INDEX", "", "kubernetes")
	case getenv("SLURM_ARRAY_TASK_ID") != "":
		id, err := num("SLURM_ARRAY_TASK_ID")
		if err != nil {
			return Shard{}, "slurm", true, err
		}
		if shards > 0 {
			// An explicit count with Slurm: task ids are the indexes
			// (--array=0-N-1).
			s, err := checkShard(Shard{id, shards}, "slurm")
			return s, "slurm", true, err
		}
		// --array=A-B: index id−A of B−A+1. SLURM_ARRAY_TASK_COUNT alone
		// (no MIN) means ids start at 0.
		lo := 0
		if getenv("SLURM_ARRAY_TASK_MIN") != "" {
			if lo, err = num("SLURM_ARRAY_TASK_MIN"); err != nil {
				return Shard{}, "slurm", true, err
			}
		}
		var n int
		switch {
		case getenv("SLURM_ARRAY_TASK_MAX") != "" && getenv("SLURM_ARRAY_TASK_MIN") != "":
			hi, err := num("SLURM_ARRAY_TASK_MAX")
			if err != nil {
				return Shard{}, "slurm", true, err
			}
			n = hi - lo + 1
		case getenv("SLURM_ARRAY_TASK_COUNT") != "":
			if n, err = num("SLURM_ARRAY_TASK_COUNT"); err != nil {
				return Shard{}, "slurm", true, err
			}
		default:
			return Shard{}, "slurm", true, fmt.Errorf("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MIN/MAX is (give --shards N)")
		}
		s, err := checkShard(Shard{id - lo, n}, "slurm")
		return s, "slurm", true, err
	case getenv("AWS_BATCH_JOB_ARRAY_INDEX") != "":
		return pair("AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE", "aws-batch")
	case getenv("CLOUD_RUN_TASK_INDEX") != "":
		return pair("CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "cloud-run")
	}
	return Shard{}, "", false, nil
}

// Weight is an entry's work estimate: frames × people, with an unknown
// frame count taken as 1.
func Weight(e *Entry, frames int) int64 {
	if frames < 1 {
		frames = 1
	}
	return int64(frames) * int64(e.People())
}

// Plan splits weighted items into n shards by longest processing time
// first: items in decreasing weight (ties by index) each go to the shard
// with the least work so far (ties by lower shard). The result holds
// item indexes, in list order within each shard; it depends only on the
// weights and n, so every worker computes the same plan.
func Plan(weights []int64, n int) [][]int {
	if n < 1 {
		panic("batch.Plan: n < 1")
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(weights[b], weights[a]) })
	load := make([]int64, n)
	out := make([][]int, n)
	for _, i := range order {
		best := 0
		for s := 1; s < n; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		load[best] += max(weights[i], 0)
		out[best] = append(out[best], i)
	}
	for _, s := range out {
		slices.Sort(s)
	}
	return out
}
