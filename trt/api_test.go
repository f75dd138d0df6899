package trt

import (
	"strings"
	"testing"

	"github.com/body4d/body4d/models"
)

func TestCheckTarget(t *testing.T) {
	a100 := models.Target{GPU: "NVIDIA A100-SXM4-80GB", Compute: "8.0", TensorRT: "10.16.0"}
	h100 := models.Target{GPU: "NVIDIA H100 80GB HBM3", Compute: "9.0", TensorRT: "10.16.0"}
	if err := CheckTarget("mesh/backbone", a100, a100); err != nil {
		t.Errorf("same target: %v", err)
	}
	err := CheckTarget("mesh/backbone", a100, h100)
	if err == nil {
		t.Fatal("a plan for an A100 accepted on an H100")
	}
	for _, want := range []string{"mesh/backbone", "NVIDIA A100-SXM4-80GB (compute 8.0", "NVIDIA H100 80GB HBM3 (compute 9.0", "rebuild", "engines build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	newer := a100
	newer.TensorRT = "10.17.0"
	if err := CheckTarget("segment/image_encoder", a100, newer); err == nil || !strings.Contains(err.Error(), "TensorRT 10.17.0") {
		t.Errorf("another TensorRT version: %v", err)
	}
}

func TestFormatVersion(t *testing.T) {
	if got := formatVersion(101600); got != "10.16.0" {
		t.Errorf("formatVersion(101600) = %q", got)
	}
}
