// Command export measures what a skinned rig leaves out of a finished
// run's bodies: MHR's pose correctives (mean and max vertex displacement
// per frame, millimetres) and the 8-influence skin's error against MHR's
// own skinning (weights truncated and renormalised), over every person's
// present frames.
//
//	go run ./tools/bench/export -out out/sample
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/body4d/body4d/mesh"
	"github.com/body4d/body4d/models"
	"github.com/body4d/body4d/rig"
	"github.com/body4d/body4d/scene"
)

func main() {
	out := flag.String("out", "out/sample", "a finished run's output directory")
	flag.Parse()
	var sum struct {
		Models string `json:"models"`
		People []struct {
			ID scene.PersonID `json:"id"`
		} `json:"people"`
	}
	read(filepath.Join(*out, "summary.json"), &sum)
	md, err := models.Open(sum.Models)
	check(err)
	body, err := mesh.OpenBody(md)
	check(err)
	var frames int
	var sumMean, maxMean, maxMax, skinErr float64
	for _, p := range sum.People {
		var rows []struct {
			Frame   int          `json:"frame"`
			Present bool         `json:"present"`
			Visible bool         `json:"visible"`
			Model   [204]float32 `json:"model"`
			Shape   [45]float32  `json:"shape"`
			CamT    [3]float64   `json:"cam_t"`
		}
		read(filepath.Join(*out, "people", strconv.Itoa(int(p.ID)), "params.json"), &rows)
		tr := scene.Track{ID: p.ID, Start: rows[0].Frame}
		for _, r := range rows {
			tr.Params = append(tr.Params, scene.Params{Model: r.Model, Shape: r.Shape, CamT: r.CamT})
			tr.Present = append(tr.Present, r.Present)
			tr.Visible = append(tr.Visible, r.Visible)
		}
		rg, err := rig.New(body.Model, tr, rig.Options{})
		check(err)
		for i, pr := range tr.Params {
			if !tr.Present[i] {
				continue
			}
			f := tr.Start + i
			with, _, err := rig.Posed(body.Model, pr, rig.CameraFrame(f), true)
			check(err)
			without, _, err := rig.Posed(body.Model, pr, rig.CameraFrame(f), false)
			check(err)
			var mean, mx float64
			for v := 0; v < len(with); v += 3 {
				d := math.Hypot(math.Hypot(with[v]-without[v], with[v+1]-without[v+1]), with[v+2]-without[v+2]) * 1000
				mean += d
				mx = max(mx, d)
			}
			mean /= float64(len(with) / 3)
			sumMean += mean
			maxMean, maxMax = max(maxMean, mean), max(maxMax, mx)
			frames++
			skinned := rg.Skinned(f)
			for k := range skinned {
				skinErr = max(skinErr, math.Abs(skinned[k]-without[k]))
			}
		}
		fmt.Printf("person %d: %d influences per vertex at most, %d dropped\n", p.ID, rg.Skin.Used, rg.Skin.Dropped)
	}
	fmt.Printf("correctives over %d person-frames: per-frame mean displacement %.3f mm on average (largest %.3f mm), largest vertex displacement %.3f mm\n",
		frames, sumMean/float64(frames), maxMean, maxMax)
	fmt.Printf("8-influence skin vs MHR skinning (no correctives): max vertex error %.3g m\n", skinErr)
}

func read(path string, v any) {
	b, err := os.ReadFile(path)
	check(err)
	check(json.Unmarshal(b, v))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
