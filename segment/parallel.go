package segment

import (
	"runtime"
	"sync"
)

// parallelRows calls f on consecutive chunks of [0,n) from up to
// GOMAXPROCS goroutines and waits for them; the pre- and post-processing
// loops over million-pixel maps use it.
func parallelRows(n int, f func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range w {
		lo, hi := i*n/w, (i+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
