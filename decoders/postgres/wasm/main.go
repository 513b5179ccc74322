//go:build wasip1

// Command wasm builds the PostgreSQL decoder as a hoop decoder plugin:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o postgres.wasm ./decoders/postgres/wasm
package main

import (
	"hoop.dev/hoop/decoders/postgres"
	"hoop.dev/hoop/sdk"
)

func init() { sdk.RegisterDecoder(postgres.Manifest, postgres.New()) }

func main() {}
