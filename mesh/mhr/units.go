package mhr

// CameraFrame converts points from MHR's output convention (centimetres,
// y up, z towards the viewer) to the one SAM-3D-Body reports and projects
// with (metres, OpenCV camera axes: x right, y down, z forward): divide by
// 100, then negate y and z (mesh-fov.md A, "MHR head", steps 5 and 7).
// xyz holds packed x, y, z triples and is converted in place.
func CameraFrame(xyz []float32) {
	for i := 0; i+2 < len(xyz); i += 3 {
		xyz[i] /= 100
		xyz[i+1] /= -100
		xyz[i+2] /= -100
	}
}
