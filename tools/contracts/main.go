// Command contracts prints every stage's engine I/O contracts as the
// Markdown table in the README, so the table is made from the code.
//
//	go run ./tools/contracts
package main

import (
	"fmt"
	"strings"

	"github.com/body4d/body4d"
	"github.com/body4d/body4d/engine"
)

func main() {
	fmt.Println("| stage/engine | inputs | outputs |")
	fmt.Println("|---|---|---|")
	for _, c := range body4d.Contracts() {
		fmt.Printf("| %s/%s | %s | %s |\n", c.Stage, c.Engine, list(c.Inputs), list(c.Outputs))
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
