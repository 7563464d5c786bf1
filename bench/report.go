package main

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// write prints the report and, when dir is set, writes results.md,
// results.svg and profile.txt there.
func (r *report) write(dir string) error {
	md := r.markdown()
	if dir == "" {
		fmt.Print(md)
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: results: %w", err)
	}
	files := map[string]string{"results.md": md, "results.svg": r.svg()}
	if r.Profile != "" {
		files["profile.txt"] = r.Profile
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("bench: results: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "results written to %s\n", dir)
	return nil
}

// The relay's two NetEase → NetEase rows: the pass-through route, the
// physical limit every ratio is taken to, and the same call decoded and
// re-encoded by the NetEase codec.
const (
	passthroughRow    = "imrelay netease → netease, pass-through (no codec)"
	codecRoundTripRow = "imrelay netease → netease through the codec"
)

func (r *report) find(group, prefix string) *row {
	for i := range r.Main {
		if r.Main[i].Group == group && strings.HasPrefix(r.Main[i].Name, prefix) {
			return &r.Main[i]
		}
	}
	return nil
}

func ratio(a float64, b *row) string {
	if b == nil || b.RPS == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b.RPS)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func us(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond)) }

func (r *report) table(b *strings.Builder, rows []row, pass, gop, njs, trf *row) {
	// The Traefik column only when the run measured Traefik (-traefik).
	head, rule := "", ""
	if trf != nil {
		head, rule = " ÷ Traefik |", "---:|"
	}
	b.WriteString("| target | req/s | ÷ pass-through | ÷ Go ReverseProxy | ÷ nginx+njs |" + head + " p50 ms | p99 ms | p99.9 ms | CPU µs/req | peak RSS MiB | errors | load avg |\n")
	b.WriteString("|---|---:|---:|---:|---:|" + rule + "---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range rows {
		name := x.Name
		if x.Note != "" {
			name += " (" + x.Note + ")"
		}
		fmt.Fprintf(b, "| %s | %.0f | %s | %s | %s |", name, x.RPS, ratio(x.RPS, pass), ratio(x.RPS, gop), ratio(x.RPS, njs))
		if trf != nil {
			fmt.Fprintf(b, " %s |", ratio(x.RPS, trf))
		}
		fmt.Fprintf(b, " %s | %s | %s | %s | %.1f | %d | %s |\n",
			ms(x.P50), ms(x.P99), ms(x.P999), us(x.CPUPerRq), x.PeakMiB, x.Errors, x.Load)
	}
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.Opts
	fmt.Fprintf(&b, "# imrelay benchmark results\n\n")
	fmt.Fprintf(&b, "Run %s UTC on loopback; every target driven by the same fasthttp load generator: %d connections, %s measured after %s of warm-up, the same bodies. "+
		"Each target is its own process; CPU time and peak RSS are that process's (nginx: master and workers), not the load generator's or the upstream's. "+
		"The machine is shared and has 2 cores: read the ratios, measured in this one run, not the absolute figures.\n\n",
		r.Started.Format("2006-01-02 15:04"), o.conns, o.duration, o.warmup)
	if o.pool > 0 {
		fmt.Fprintf(&b, "The relay runs with `plugins.pool_size: %d` (one instance of each codec per connection) except in the row that says otherwise: "+
			"with the default pool a route with two codecs stalls under more concurrent requests than instances (see README).\n\n", o.pool)
	}
	if o.smoke {
		b.WriteString("**Smoke run**: durations too short for any figure to mean anything.\n\n")
	}
	b.WriteString("![requests per second](results.svg)\n\n## Side by side\n\n")
	pass := r.find("imrelay", passthroughRow)
	gop := r.find("peer", "Go net/http")
	njs := r.find("peer", "nginx")
	trf := r.find("peer", "Traefik")
	r.table(&b, r.Main, pass, gop, njs, trf)
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "\nNot measured: %s.\n", s)
	}

	b.WriteString("\n## Targets of issue 6\n\n| target | figure | verdict |\n|---|---|---|\n")
	gs := r.find("imrelay", "imrelay getsender → netease")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	if gs != nil && pass != nil {
		v := gs.RPS / pass.RPS
		fmt.Fprintf(&b, "| getsender → netease ≥ 80%% of pass-through | %.0f%% | %s |\n", 100*v, verdict(v >= 0.8))
	}
	if gs != nil && njs != nil {
		v := gs.RPS / njs.RPS
		fmt.Fprintf(&b, "| ≥ 1.5× nginx + njs | %.2f× | %s |\n", v, verdict(v >= 1.5))
	}
	switch {
	case gs != nil && trf != nil:
		v := gs.RPS / trf.RPS
		fmt.Fprintf(&b, "| ≥ 4× Traefik + wasm | %.2f× | %s |\n", v, verdict(v >= 4))
	case !o.traefik:
		b.WriteString("| ≥ 4× Traefik + wasm | not measured (`-traefik` not set: `make bench-traefik`) | — |\n")
	}
	if gs != nil && gop != nil {
		fmt.Fprintf(&b, "| (for the record) against Go ReverseProxy + native translation | %.2f× | — |\n", gs.RPS/gop.RPS)
	}
	if rt := r.find("imrelay", codecRoundTripRow); gs != nil && rt != nil {
		fmt.Fprintf(&b, "| (for the record) against netease → netease through the codec | %.2f× | — |\n", gs.RPS/rt.RPS)
	}
	if r.HalfLoad != nil {
		fmt.Fprintf(&b, "| p99 at half of peak load ≤ 2 ms | %s ms at %.0f req/s | %s |\n", ms(r.HalfLoad.P99), r.HalfLoad.RPS, verdict(r.HalfLoad.P99 <= 2*time.Millisecond))
	}
	var warm []time.Duration
	for _, x := range r.Ready {
		if x.Kind == "warm" {
			warm = append(warm, x.Wall)
		}
	}
	if len(warm) > 0 {
		worst := warm[0]
		for _, w := range warm {
			worst = max(worst, w)
		}
		fmt.Fprintf(&b, "| ready ≤ 500 ms with a warm compilation cache | %s ms (slowest of %d) | %s |\n", ms(worst), len(warm), verdict(worst <= 500*time.Millisecond))
	}
	b.WriteString("| host hot path 0 allocs/op | `go test ./proxy -run TestHostPathAllocs` | see RATIONALE.md |\n")

	if r.HalfLoad != nil {
		b.WriteString("\n## Latency at half of peak load\n\nPaced load at half the closed-loop peak of getsender → netease; latency counts from each request's scheduled time.\n\n")
		r.table(&b, []row{*r.HalfLoad}, pass, gop, njs, trf)
	}
	if len(r.Sizes) > 0 {
		b.WriteString("\n## Message size\n\nThe text of one message grows; the body is about the size shown.\n\n")
		r.table(&b, r.Sizes, pass, gop, njs, trf)
	}
	if len(r.Batches) > 0 {
		b.WriteString("\n## Batch size\n\nOne opapp client request carries N messages; the relay sends N NetEase requests (at most `limits.fanout` at once). req/s counts client requests: messages/s is N times it.\n\n")
		r.table(&b, r.Batches, pass, gop, njs, trf)
	}
	b.WriteString("\n## Start to ready\n\nFrom starting the relay process (four routes, four codecs to load) to its first answer-ready line; \"in process\" is the relay's own measure from `proxy.New` to listening. The cold start compiles into an empty cache, the warm ones read it.\n\n| start | wall ms | in process ms |\n|---|---:|---:|\n")
	for _, x := range r.Ready {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", x.Kind, ms(x.Wall), ms(x.Inner))
	}
	if r.InstMem != nil {
		fmt.Fprintf(&b, "\n## Memory per pooled plugin instance\n\n%d instances of the %s codec held at once, each having run a decode: %.2f MiB of resident memory per instance beyond the first (the process with one instance: %.1f MiB).\n",
			r.InstMem.Instances, r.InstMem.Plugin, r.InstMem.PerInstMiB, r.InstMem.BaseMiB)
	}
	if r.Profile != "" {
		b.WriteString("\n## Profile\n\nCPU profile of the relay under getsender → netease load: [profile.txt](profile.txt).\n")
	}
	return b.String()
}

// svg draws the side-by-side requests/s as horizontal bars.
func (r *report) svg() string {
	const (
		width, left, barH, gap, top = 760, 330, 22, 8, 40
	)
	rows := r.Main
	var peak float64
	for _, x := range rows {
		peak = max(peak, x.RPS)
	}
	if peak == 0 {
		peak = 1
	}
	h := top + len(rows)*(barH+gap) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="14" font-weight="bold">requests/s, same load generator, %d connections (one run)</text>`+"\n", r.Opts.conns)
	colors := map[string]string{"ceiling": "#999999", "imrelay": "#2b6cb0", "peer": "#dd6b20"}
	for i, x := range rows {
		y := top + i*(barH+gap)
		w := int(float64(width-left-90) * x.RPS / peak)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH-7, html.EscapeString(x.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, max(w, 1), barH, colors[x.Group])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%.0f</text>`+"\n", left+w+6, y+barH-7, x.RPS)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
