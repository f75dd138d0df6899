package serve

import (
	"net/http"
	"os"
	"path/filepath"
)

// The 3D viewer of a job's scene.glb is <model-viewer> (npm
// @google/model-viewer, three.js bundled in), installed by
// scripts/setup.sh into .deps/node and served same-origin from there;
// it is never part of the repository.

// viewerScript is where scripts/setup.sh puts model-viewer, relative to
// the repository root.
const viewerScript = ".deps/node/node_modules/@google/model-viewer/dist/model-viewer.min.js"

// FindViewer returns the path of model-viewer's script: .deps/node in the
// working directory or a parent, then in the executable's directory or
// a parent; "" when it is not installed.
func FindViewer() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, viewerScript)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

// viewer serves model-viewer's script, or says how to install it.
func (s *Server) viewer(w http.ResponseWriter, r *http.Request) {
	if s.opt.Viewer == "" {
		writeError(w, http.StatusNotFound, "the 3D viewer (npm @google/model-viewer) is not installed: run scripts/setup.sh")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	serveFile(w, r, s.opt.Viewer, "model-viewer.min.js", "text/javascript")
}
