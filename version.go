package body4d

import "runtime/debug"

// modulePath is this module's import path, to find its version in a
// program that uses body4d as a library.
const modulePath = "github.com/body4d/body4d"

// Version returns the version of body4d built into the running program,
// as the Go toolchain recorded it: the module version of a tagged
// release or a pseudo-version, or "(devel)" for a build from a checkout
// without version control information.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == modulePath {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "(unknown)"
}
