//go:build wasip1

// Command wasm builds the analyzer policy as a hoop plugin:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o analyzer.wasm ./plugins/analyzer/wasm
package main

import (
	"hoop.dev/hoop/plugins/analyzer"
	"hoop.dev/hoop/sdk"
)

func init() { sdk.RegisterPolicy(analyzer.Manifest, analyzer.New()) }

func main() {}
