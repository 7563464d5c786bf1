package sdktest

import "strings"

// diff returns a line diff of want and got: lines only in want start with
// "-", lines only in got with "+", common lines with a space; runs of common
// lines far from any change are cut to "...". It uses the longest common
// subsequence of lines, which is plenty for golden files of a few hundred
// lines; past maxDiffCells it prints both sides whole.
func diff(want, got string) string {
	a, b := splitLines(want), splitLines(got)
	var out strings.Builder
	if len(a)*len(b) > maxDiffCells {
		for _, l := range a {
			out.WriteString("- " + l + "\n")
		}
		for _, l := range b {
			out.WriteString("+ " + l + "\n")
		}
		return out.String()
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:]
	// and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var lines []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, "  "+a[i])
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, "- "+a[i])
			i++
		default:
			lines = append(lines, "+ "+b[j])
			j++
		}
	}
	// Keep diffContext common lines around each change.
	keep := make([]bool, len(lines))
	for k, l := range lines {
		if l[0] != ' ' {
			for c := max(0, k-diffContext); c <= min(len(lines)-1, k+diffContext); c++ {
				keep[c] = true
			}
		}
	}
	cut := false
	for k, l := range lines {
		if keep[k] || len(lines) <= 2*diffContext+1 {
			out.WriteString(l + "\n")
			cut = false
		} else if !cut {
			out.WriteString("  ...\n")
			cut = true
		}
	}
	return out.String()
}

// diffContext is how many unchanged lines diff shows around a change.
const diffContext = 3

const maxDiffCells = 4 << 20

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
