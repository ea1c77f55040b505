//go:build race

package dap

// raceEnabled reports that the race detector is on: decoding megabytes of
// JSON is then some twenty times slower.
const raceEnabled = true
