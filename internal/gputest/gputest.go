// Package gputest opens the CUDA kernels for the tests that compare them
// with the stages' Go functions on a GPU.
package gputest

import (
	"os"
	"testing"

	"github.com/body4d/body4d/kernels"
)

// Kernels returns the CUDA kernels (kernels.Default), closed when the test
// ends. Without a GPU, or in a build without the tag cuda, the test skips,
// unless BODY4D_REQUIRE_GPU=1 (the device check sets it): then it fails.
func Kernels(t testing.TB) kernels.Kernels {
	t.Helper()
	k, why := kernels.Default(nil)
	if k == nil {
		if os.Getenv("BODY4D_REQUIRE_GPU") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	t.Cleanup(func() {
		if c, ok := k.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	return k
}
