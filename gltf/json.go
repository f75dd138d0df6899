package gltf

// The glTF 2.0 JSON schema, as much of it as this package writes.

const (
	componentUByte  = 5121
	componentUShort = 5123
	componentUInt   = 5125
	componentFloat  = 5126

	targetArray    = 34962 // ARRAY_BUFFER: vertex attributes
	targetElements = 34963 // ELEMENT_ARRAY_BUFFER: indices
)

type document struct {
	Asset       asset        `json:"asset"`
	Scene       int          `json:"scene"`
	Scenes      []sceneJSON  `json:"scenes"`
	Nodes       []node       `json:"nodes"`
	Meshes      []meshJSON   `json:"meshes,omitempty"`
	Materials   []material   `json:"materials,omitempty"`
	Skins       []skin       `json:"skins,omitempty"`
	Cameras     []camera     `json:"cameras,omitempty"`
	Animations  []animation  `json:"animations,omitempty"`
	Accessors   []accessor   `json:"accessors"`
	BufferViews []bufferView `json:"bufferViews"`
	Buffers     []buffer     `json:"buffers"`
}

type asset struct {
	Version   string       `json:"version"`
	Generator string       `json:"generator"`
	Extras    *assetExtras `json:"extras,omitempty"`
}

type assetExtras struct {
	FPS    string `json:"fps"`
	Frames int    `json:"frames"`
	Units  string `json:"units"`
	Axes   string `json:"axes"`
	Absent string `json:"absent"`
}

type sceneJSON struct {
	Name  string `json:"name"`
	Nodes []int  `json:"nodes"`
}

type node struct {
	Name        string      `json:"name"`
	Children    []int       `json:"children,omitempty"`
	Translation *[3]float64 `json:"translation,omitempty"`
	Rotation    *[4]float64 `json:"rotation,omitempty"`
	Scale       *[3]float64 `json:"scale,omitempty"`
	Mesh        *int        `json:"mesh,omitempty"`
	Skin        *int        `json:"skin,omitempty"`
	Camera      *int        `json:"camera,omitempty"`
	Extras      *nodeExtras `json:"extras,omitempty"`
}

type nodeExtras struct {
	Person int `json:"person"`
}

type meshJSON struct {
	Name       string      `json:"name"`
	Primitives []primitive `json:"primitives"`
}

type primitive struct {
	Attributes map[string]int `json:"attributes"`
	Indices    int            `json:"indices"`
	Material   int            `json:"material"`
	Mode       int            `json:"mode"`
}

type material struct {
	Name string `json:"name"`
	PBR  pbr    `json:"pbrMetallicRoughness"`
}

type pbr struct {
	BaseColorFactor [4]float32 `json:"baseColorFactor"`
	MetallicFactor  float32    `json:"metallicFactor"`
	RoughnessFactor float32    `json:"roughnessFactor"`
}

type skin struct {
	Name                string `json:"name"`
	InverseBindMatrices int    `json:"inverseBindMatrices"`
	Skeleton            *int   `json:"skeleton,omitempty"`
	Joints              []int  `json:"joints"`
}

type camera struct {
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Perspective perspective   `json:"perspective"`
	Extras      *cameraExtras `json:"extras,omitempty"`
}

type perspective struct {
	AspectRatio float64 `json:"aspectRatio"`
	YFov        float64 `json:"yfov"`
	ZNear       float64 `json:"znear"`
}

type cameraExtras struct {
	Fx              float64    `json:"fx"`
	Fy              float64    `json:"fy"`
	Cx              float64    `json:"cx"`
	Cy              float64    `json:"cy"`
	Width           int        `json:"width"`
	Height          int        `json:"height"`
	PrincipalOffset [2]float64 `json:"principal_offset"`
	Note            string     `json:"note"`
}

type animation struct {
	Name     string    `json:"name"`
	Channels []channel `json:"channels"`
	Samplers []sampler `json:"samplers"`
}

type channel struct {
	Sampler int    `json:"sampler"`
	Target  target `json:"target"`
}

type target struct {
	Node int    `json:"node"`
	Path string `json:"path"`
}

type sampler struct {
	Input         int    `json:"input"`
	Output        int    `json:"output"`
	Interpolation string `json:"interpolation"`
}

type accessor struct {
	BufferView    int       `json:"bufferView"`
	ComponentType int       `json:"componentType"`
	Count         int       `json:"count"`
	Type          string    `json:"type"`
	Min           []float64 `json:"min,omitempty"`
	Max           []float64 `json:"max,omitempty"`
}

type bufferView struct {
	Buffer     int `json:"buffer"`
	ByteOffset int `json:"byteOffset"`
	ByteLength int `json:"byteLength"`
	Target     int `json:"target,omitempty"`
}

type buffer struct {
	ByteLength int `json:"byteLength"`
}
