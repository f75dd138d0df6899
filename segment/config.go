package segment

import "fmt"

// Config is the model-level behaviour of the tracker: what the reference
// fixes when it builds the model (sam3 model_builder.build_tracker, or a
// SAM-2.1 yaml). The same code runs SAM-3 and SAM-2.1 engines; SAM21
// says where it does not reproduce sam2's video predictor.
type Config struct {
	// ImageSize is the square model input; BackboneStride its ratio to
	// the feature grid. The low-resolution masks are 4× the grid.
	ImageSize, BackboneStride int
	// Mean and Std normalise pixels in [0,1] per channel.
	Mean, Std [3]float32
	// MaxCondFrames is how many conditioning (clicked) frames the memory
	// attention sees, the nearest ones; -1 means all.
	MaxCondFrames int
	// MemorySelection picks recent memories among frames whose effective
	// IoU score exceeds SelectionThreshold (SAM2Long-style frame filter)
	// instead of the frames just before.
	MemorySelection    bool
	SelectionThreshold float32
	// MaxObjPtrs bounds the object pointers the memory attention sees.
	MaxObjPtrs int
	// MultimaskMaxPoints: a prompt with at most this many points (a box
	// is two) gets three candidate masks and keeps the best.
	MultimaskMaxPoints int
	// StabilityDelta and StabilityThresh: a single-mask output whose
	// stability score is below the threshold falls back to the best of
	// the multimask outputs.
	StabilityDelta, StabilityThresh float32
}

// SAM3 is the reference SAM-3 tracker as SAM-Body4D builds it
// (build_sam3_video_model with temporal disambiguation on).
func SAM3() Config {
	return Config{
		ImageSize: 1008, BackboneStride: 14,
		Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5},
		MaxCondFrames:   4,
		MemorySelection: true, SelectionThreshold: 0.01,
		MaxObjPtrs:         16,
		MultimaskMaxPoints: 1,
		StabilityDelta:     0.05, StabilityThresh: 0.98,
	}
}

// SAM21 is the SAM-2.1 video predictor's model settings
// (sam2.1_hiera_*.yaml): 1024² input with ImageNet normalisation, every
// conditioning frame in attention and no memory selection. The tracking
// logic stays SAM-3's, so sam2 1.1.0's predictor is not reproduced where
// it differs: it decodes correction clicks on already-tracked frames with
// memory (this tracker decodes every click without memory); it fills
// mask holes of up to 8 pixels; it encodes each person's clicked-frame
// memory on its own, without SAM-3's non-overlap across people; it never
// clears the memories around a new click; and it tracks each person
// independently. Not checked against the sam2 package.
func SAM21() Config {
	return Config{
		ImageSize: 1024, BackboneStride: 16,
		Mean:          [3]float32{0.485, 0.456, 0.406},
		Std:           [3]float32{0.229, 0.224, 0.225},
		MaxCondFrames: -1,
		MaxObjPtrs:    16, MultimaskMaxPoints: 1,
		StabilityDelta: 0.05, StabilityThresh: 0.98,
	}
}

func (c Config) featSize() int   { return c.ImageSize / c.BackboneStride }
func (c Config) lowResSize() int { return 4 * c.featSize() }

func (c Config) check() error {
	switch {
	case c.ImageSize <= 0 || c.BackboneStride <= 0 || c.ImageSize%c.BackboneStride != 0:
		return fmt.Errorf("segment: image size %d is not a multiple of the backbone stride %d", c.ImageSize, c.BackboneStride)
	case c.MaxCondFrames == 0 || c.MaxCondFrames == 1 || c.MaxCondFrames < -1:
		return fmt.Errorf("segment: MaxCondFrames %d: want -1 (all) or at least 2", c.MaxCondFrames)
	case c.MaxObjPtrs < 1:
		return fmt.Errorf("segment: MaxObjPtrs %d must be at least 1", c.MaxObjPtrs)
	case c.Std[0] == 0 || c.Std[1] == 0 || c.Std[2] == 0:
		return fmt.Errorf("segment: zero standard deviation in %v", c.Std)
	}
	return nil
}
