//go:build !race

package dap

// raceEnabled reports that the race detector is on.
const raceEnabled = false
