//go:build !cuda

package main

import (
	"errors"
	"io"
)

func runBench(io.Writer) error { return errors.New("-bench needs a build with the tag cuda") }
