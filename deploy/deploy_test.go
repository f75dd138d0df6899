// Package deploy holds the cluster examples for body4d batch; its test
// checks them against the engines' own types.
package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestIndexedJob decodes the Kubernetes example strictly into batch/v1
// Job (an unknown or misplaced field fails) and checks what the worker
// depends on: indexed completions, a per-index retry budget, the shard
// count equal to the completions, one GPU, a shared data volume and a
// read-only model volume.
func TestIndexedJob(t *testing.T) {
	raw, err := os.ReadFile("k8s/indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var job batchv1.Job
	if err := dec.Decode(&job); err != nil {
		t.Fatalf("not a batch/v1 Job: %v", err)
	}
	s := job.Spec
	if job.APIVersion != "batch/v1" || job.Kind != "Job" {
		t.Errorf("apiVersion/kind = %s/%s", job.APIVersion, job.Kind)
	}
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Error("completionMode is not Indexed")
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
		t.Error("no backoffLimitPerIndex: a failed shard would not be retried with its index")
	}
	if s.Completions == nil || s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatal("no completions, or restartPolicy is not Never (needed with backoffLimitPerIndex)")
	}
	pod := s.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	shards := ""
	for _, e := range c.Env {
		if e.Name == "BODY4D_SHARDS" {
			shards = e.Value
		}
	}
	if want := itoa(*s.Completions); shards != want {
		t.Errorf("BODY4D_SHARDS = %q, want the completions %s", shards, want)
	}
	if len(c.Args) < 4 || c.Args[0] != "batch" || !slices.Contains(c.Args, "--out") {
		t.Errorf("args %q do not run body4d batch LIST --out DIR", c.Args)
	}
	if q := c.Resources.Limits["nvidia.com/gpu"]; q.Value() != 1 {
		t.Errorf("GPU limit %v, want 1", q.String())
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if m, ok := mounts["models"]; !ok || !m.ReadOnly || !slices.Contains(c.Args, m.MountPath) {
		t.Errorf("models not mounted read-only at the --models path: %+v", m)
	}
	if m, ok := mounts["data"]; !ok || m.ReadOnly || !strings.HasPrefix(c.Args[1], m.MountPath+"/") {
		t.Errorf("list not on the writable shared data volume: %+v", m)
	}
	for name := range mounts {
		if v, ok := vols[name]; !ok || v.PersistentVolumeClaim == nil {
			t.Errorf("mount %s has no persistent volume claim (pods must share it)", name)
		}
	}
}

func itoa(n int32) string { b, _ := json.Marshal(n); return string(b) }
