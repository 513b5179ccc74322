package postgres

import "testing"

func TestStatementsScan(t *testing.T) {
	out := []byte(`{"dir":"c2s","type":"startup","protocol":"3.0","user":"u"}
{"dir":"c2s","type":"statement","proto":"simple","text":"select '\"q\"', E'\\\\n' -- é \u00e9"}
{"dir":"c2s","type":"bind","portal":"","statement":"","params":["text"]}
{"dir":"c2s","type":"statement","proto":"extended","name":"s1","text":"select $1"}
`)
	evs := statements(out)
	if len(evs) != 2 || evs[0].Text != `select '"q"', E'\\n' -- é é` || evs[1].Text != "select $1" {
		t.Fatalf("statements = %+v", evs)
	}
}
