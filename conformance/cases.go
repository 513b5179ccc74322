package conformance

import (
	"bytes"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"hoop.dev/hoop/sdk"
)

// embedded holds the cases directory committed with the package.
//
//go:embed all:cases
var embedded embed.FS

// Frame is one relayed frame of a capture.
type Frame struct {
	Dir  sdk.Dir
	Data []byte
}

// DecoderCase is one capture and the exact output expected for it.
type DecoderCase struct {
	Name   string
	Frames []Frame
	Events []byte // expected JSON Lines
}

// PolicyCase is one input and the decision expected for it.
type PolicyCase struct {
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
	Decision string          `json:"decision"`
	Rule     string          `json:"rule,omitempty"`
}

// PolicyCaseFile is one policy case file: a config and its cases.
type PolicyCaseFile struct {
	Name   string          `json:"-"`
	Config json.RawMessage `json:"config"`
	Cases  []PolicyCase    `json:"cases"`
}

// LoadDecoderCases reads <protocol>/*.frames.jsonl and their events files.
// A protocol without a directory has no cases (and no error).
func LoadDecoderCases(fsys fs.FS, protocol string) ([]DecoderCase, error) {
	names, err := fs.Glob(fsys, path.Join(protocol, "*.frames.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("list cases of %s: %w", protocol, err)
	}
	sort.Strings(names)
	var cases []DecoderCase
	for _, name := range names {
		c, err := loadDecoderCase(fsys, name)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func loadDecoderCase(fsys fs.FS, framesPath string) (DecoderCase, error) {
	base := strings.TrimSuffix(framesPath, ".frames.jsonl")
	c := DecoderCase{Name: base}
	raw, err := fs.ReadFile(fsys, framesPath)
	if err != nil {
		return c, fmt.Errorf("read case: %w", err)
	}
	for i, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var f struct {
			Dir string `json:"dir"`
			Hex string `json:"hex"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return c, fmt.Errorf("read case %s:%d: %w", framesPath, i+1, err)
		}
		var fr Frame
		switch f.Dir {
		case "c2s":
			fr.Dir = sdk.C2S
		case "s2c":
			fr.Dir = sdk.S2C
		default:
			return c, fmt.Errorf("read case %s:%d: dir %q is neither c2s nor s2c", framesPath, i+1, f.Dir)
		}
		if fr.Data, err = hex.DecodeString(f.Hex); err != nil {
			return c, fmt.Errorf("read case %s:%d: %w", framesPath, i+1, err)
		}
		c.Frames = append(c.Frames, fr)
	}
	if c.Events, err = fs.ReadFile(fsys, base+".events.jsonl"); err != nil {
		return c, fmt.Errorf("read case: %w", err)
	}
	return c, nil
}

// LoadPolicyCases reads policy/<plugin>/*.json.
func LoadPolicyCases(fsys fs.FS, plugin string) ([]PolicyCaseFile, error) {
	names, err := fs.Glob(fsys, path.Join("policy", plugin, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list policy cases of %s: %w", plugin, err)
	}
	sort.Strings(names)
	var files []PolicyCaseFile
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read policy cases: %w", err)
		}
		var f PolicyCaseFile
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("read policy cases %s: %w", name, err)
		}
		if len(f.Cases) == 0 {
			return nil, fmt.Errorf("read policy cases %s: no cases", name)
		}
		for i, c := range f.Cases {
			if c.Name == "" || len(c.Input) == 0 {
				return nil, fmt.Errorf("read policy cases %s: case %d needs a name and an input", name, i)
			}
			if err := (sdk.Verdict{Decision: c.Decision}).Validate(); err != nil {
				return nil, fmt.Errorf("read policy cases %s: case %q: %w", name, c.Name, err)
			}
		}
		f.Name = name
		files = append(files, f)
	}
	return files, nil
}

func openCases(dir string) (fs.FS, error) {
	if dir == "" {
		sub, err := fs.Sub(embedded, "cases")
		if err != nil {
			return nil, errors.New("open embedded cases: " + err.Error())
		}
		return sub, nil
	}
	return os.DirFS(dir), nil
}
