//go:build wasip1

// Command wasm builds the guardrail policy as a hoop plugin:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o guardrail.wasm ./plugins/guardrail/wasm
package main

import (
	"hoop.dev/hoop/plugins/guardrail"
	"hoop.dev/hoop/sdk"
)

func init() { sdk.RegisterPolicy(guardrail.Manifest, guardrail.New()) }

func main() {}
