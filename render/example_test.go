package render_test

import (
	"fmt"
	"image"

	"github.com/body4d/body4d/render"
	"github.com/body4d/body4d/scene"
)

func Example() {
	// One triangle 2 m in front of a 64×48 camera, facing it.
	mesh := &scene.Mesh{
		Vertices: []float32{-0.5, -0.5, 2, -0.5, 0.5, 2, 0.5, -0.5, 2},
		Faces:    []uint32{0, 1, 2},
	}
	frame := scene.NewRGB(image.Rect(0, 0, 64, 48)) // the video frame
	r, err := render.New(render.Options{Opacity: 0.8})
	if err != nil {
		fmt.Println(err)
		return
	}
	K := scene.DefaultIntrinsics(64, 48)
	if err := r.Render(frame, []render.Item{{Person: 1, Mesh: mesh}}, K); err != nil {
		fmt.Println(err)
		return
	}
	black := scene.NewRGB(image.Rect(0, 0, 1, 1)).RGBAAt(0, 0)
	fmt.Println("triangle drawn:", frame.RGBAAt(28, 20) != black)
	fmt.Println("corner untouched:", frame.RGBAAt(60, 44) == black)
	// Output:
	// triangle drawn: true
	// corner untouched: true
}
