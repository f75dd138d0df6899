// Command contracts prints every stage's engine I/O contracts as the
// Markdown table in the README, so the table is made from the code; with
// -json, as JSON for the exporters' check scripts
// (tools/export/exportlib.py go_contracts).
//
//	go run ./tools/contracts
//	go run ./tools/contracts -json -stage fov
//
// The JSON is a list of {"stage", "engine", "optional", "inputs",
// "outputs"}, each tensor {"name", "dtype", "shape"} with -1 for a dynamic
// dimension and -2 for one of any size.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/body4d/body4d/engine"
	"github.com/body4d/body4d/job"
)

func main() {
	asJSON := flag.Bool("json", false, "print the contracts as JSON instead of the Markdown table")
	stage := flag.String("stage", "", "print only this stage's contracts")
	flag.Parse()
	var cs []engine.Contract
	for _, c := range job.Contracts() {
		if *stage == "" || c.Stage == *stage {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		fmt.Fprintf(os.Stderr, "contracts: no stage %q\n", *stage)
		os.Exit(2)
	}
	if *asJSON {
		if err := printJSON(cs); err != nil {
			fmt.Fprintln(os.Stderr, "contracts:", err)
			os.Exit(1)
		}
		return
	}
	fmt.Println("| stage/engine | inputs | outputs |")
	fmt.Println("|---|---|---|")
	for _, c := range cs {
		opt := ""
		if c.Optional {
			opt = " (optional)"
		}
		fmt.Printf("| %s/%s%s | %s | %s |\n", c.Stage, c.Engine, opt, list(c.Inputs), list(c.Outputs))
	}
}

func list(ts []engine.TensorInfo) string {
	var parts []string
	for _, t := range ts {
		dims := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			if d == engine.Dynamic {
				dims[i] = "?"
			} else {
				dims[i] = fmt.Sprint(d)
			}
		}
		s := fmt.Sprintf("%s [%s]", t.Name, strings.Join(dims, ","))
		if t.DType != engine.Float32 {
			s += " " + t.DType.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

type jsonTensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"` // -1 dynamic, -2 any
}

type jsonContract struct {
	Stage    string       `json:"stage"`
	Engine   string       `json:"engine"`
	Optional bool         `json:"optional"`
	Inputs   []jsonTensor `json:"inputs"`
	Outputs  []jsonTensor `json:"outputs"`
}

func printJSON(cs []engine.Contract) error {
	tensors := func(ts []engine.TensorInfo) []jsonTensor {
		out := make([]jsonTensor, len(ts))
		for i, t := range ts {
			out[i] = jsonTensor{t.Name, t.DType.String(), append([]int64{}, t.Shape...)}
		}
		return out
	}
	out := make([]jsonContract, len(cs))
	for i, c := range cs {
		out[i] = jsonContract{c.Stage, c.Engine, c.Optional, tensors(c.Inputs), tensors(c.Outputs)}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
