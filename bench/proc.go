package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux platform Go supports.
const clockTicks = 100

// procUsage is what /proc says about a process and its children that are
// still running (nginx workers): CPU time so far and peak resident memory.
type procUsage struct {
	CPU    time.Duration // user + system
	PeakKB int64         // sum of VmHWM
}

// usage reads the CPU time and peak RSS of pid and of its live children.
func usage(pid int) (procUsage, error) {
	var u procUsage
	pids := append([]int{pid}, children(pid)...)
	for _, p := range pids {
		cpu, err := cpuOf(p)
		if err != nil {
			return u, fmt.Errorf("bench: cpu of pid %d: %w", p, err)
		}
		u.CPU += cpu
		u.PeakKB += hwmOf(p)
	}
	return u, nil
}

// statFields returns the fields of /proc/<pid>/stat from field 3 (state)
// on: the command name before them may hold spaces, so they start after
// the last ')'.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("unexpected stat line %q", b)
	}
	return strings.Fields(string(b[i+1:])), nil
}

func cpuOf(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line %q", f)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime in %q", f)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// exited reports whether pid has ended (a zombie not yet waited for).
func exited(pid int) bool {
	f, err := statFields(pid)
	return err != nil || len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

// hwmOf is the peak resident set size in KiB (0 when unknown).
func hwmOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// children lists the live child processes of pid.
func children(pid int) []int {
	var out []int
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// loadAvg is the one-minute load average, for the record of each run.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
