// Package kstatus checks how GitOps tools read Suido's status: Argo CD and Flux compute the
// health of custom resources with the kstatus library of sigs.k8s.io/cli-utils. The objects and
// the status each must read come from the end-to-end test tests/gitops_health.rs, which writes
// them to the file named by SUIDO_KSTATUS_CASES after `suido dev` has converged the examples.
package kstatus

import (
	"encoding/json"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// A case: one object as the API server returned it, and the kstatus status it must read.
type kase struct {
	Expect string          `json:"expect"`
	Object json.RawMessage `json:"object"`
}

func TestSuidoObjectsReadAsExpected(t *testing.T) {
	path := os.Getenv("SUIDO_KSTATUS_CASES")
	if path == "" {
		t.Fatal("SUIDO_KSTATUS_CASES names no file; run this through `cargo test -p suido-e2e --test gitops_health`")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var cases []kase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	seen := map[string]int{}
	for _, c := range cases {
		// The Kubernetes decoder keeps integers as int64, as kstatus expects.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(c.Object); err != nil {
			t.Errorf("decoding an object: %v", err)
			continue
		}
		name := u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
		res, err := status.Compute(u)
		if err != nil {
			t.Errorf("%s: kstatus failed: %v", name, err)
			continue
		}
		seen[res.Status.String()]++
		if res.Status.String() != c.Expect {
			t.Errorf("%s: kstatus reads %s (%s), want %s", name, res.Status, res.Message, c.Expect)
		}
	}
	t.Logf("statuses read: %v", seen)
}
