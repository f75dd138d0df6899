//go:build race

package serve

// raceEnabled: the race detector slows the pipeline's Go code several
// times over, so timing tests (TestLoad) skip under it.
const raceEnabled = true
