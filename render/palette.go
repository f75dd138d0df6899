package render

import (
	"fmt"
	"image/color"

	"github.com/body4d/body4d/scene"
)

// palette is the colour table, as hex RRGGBB, of SAM-Body4D's utils/painter.py
// (colormap(), github.com/gaomingqi/sam-body4d): the listed floats times
// 255, truncated to uint8 as that file's .astype('uint8') does. The mask
// overlay and the mesh renderer both colour person id with entry id+4
// (reference note app-pipeline.md §4 and §7), so a person keeps one colour
// across the two.
const palette = "" +
	"000000ffffffff7e4f6394ec0071bcd85218" +
	"ecb01f7d2e8d76ab2f4cbdeda1132e4c4c4c" +
	"999999ff0000ff7f00bebe0000ff000000ff" +
	"aa00ff54540054aa0054ff00aa5400aaaa00" +
	"aaff00ff5400ffaa00ffff0000547f00aa7f" +
	"00ff7f54007f54547f54aa7f54ff7faa007f" +
	"aa547faaaa7faaff7fff007fff547fffaa7f" +
	"ffff7f0054ff00aaff00ffff5400ff5454ff" +
	"54aaff54ffffaa00ffaa54ffaaaaffaaffff" +
	"ff00ffff54ffffaaff2a00005400007f0000" +
	"aa0000d40000ff0000002a00005400007f00" +
	"00aa0000d40000ff0000002a00005400007f" +
	"0000aa0000d40000ff2424244848486d6d6d" +
	"919191b6b6b6dadada"

// paletteLen is the number of colours in palette.
const paletteLen = len(palette) / 6

// paletteOffset is the index of person 0's colour: the reference paints
// person id with color_list[id+4].
const paletteOffset = 4

// PersonColor returns the colour the reference gives person id, the same
// colour as its mask overlay. IDs past the end of the 81-entry table wrap
// around (the reference would raise IndexError).
func PersonColor(id scene.PersonID) (color.RGBA, error) {
	if id < 1 {
		return color.RGBA{}, fmt.Errorf("render: person id %d must be ≥ 1", id)
	}
	return paletteAt((int(id) + paletteOffset) % paletteLen), nil
}

func paletteAt(i int) color.RGBA {
	s := palette[6*i : 6*i+6]
	b := func(j int) uint8 { return hexVal(s[j])<<4 | hexVal(s[j+1]) }
	return color.RGBA{b(0), b(2), b(4), 0xff}
}

func hexVal(c byte) uint8 {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}
