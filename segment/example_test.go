package segment_test

import (
	"github.com/body4d/body4d"
	"github.com/body4d/body4d/segment"
)

// The tracker is the pipeline's segmentation stage.
var _ body4d.Segmenter = (*segment.Tracker)(nil)
