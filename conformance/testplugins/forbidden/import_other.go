//go:build !wasip1

package main

func something(int32) {}
