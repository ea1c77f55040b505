package debuginfo

import "fmt"

// suggest returns " (did you mean 'x'?)" for the candidate closest to name
// by edit distance, or "" when none is close enough to be a likely typo.
func suggest(name string, candidates []string) string {
	best, bestD := "", -1
	limit := max(1, len(name)/3)
	for _, c := range candidates {
		if c == name || abs(len(c)-len(name)) > limit {
			continue
		}
		dist := editDistance(name, c)
		if dist <= limit && (bestD < 0 || dist < bestD || dist == bestD && c < best) {
			best, bestD = c, dist
		}
	}
	if bestD < 0 {
		return ""
	}
	return fmt.Sprintf(" (did you mean '%s'?)", best)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes cost 1.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
