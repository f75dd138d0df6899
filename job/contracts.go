package job

import (
	"slices"

	"github.com/body4d/body4d/amodal"
	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/fov"
	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/segment"
)

// Contracts returns the I/O contract of every engine a job's stages use;
// a model directory is complete when it has an engine matching each.
func Contracts() []engine.Contract {
	return slices.Concat(segment.Contracts(), amodal.Contracts(), fov.Contracts(), mesh.Contracts())
}
