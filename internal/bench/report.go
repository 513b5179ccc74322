package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the outcome of one bench invocation.
type report struct {
	Date      time.Time
	Duration  time.Duration
	Pairs     int
	Machine   string
	Scenarios []*scenarioResult
	Decoder   *decoderResult
	Took      time.Duration
}

// scenarioResult holds every run of a scenario, per target, in pair order.
type scenarioResult struct {
	Scenario scenario
	Runs     map[string][]runResult
	Err      string // why the scenario stopped early ("" if it did not)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// each maps f over a target's runs.
func (r *scenarioResult) each(target string, f func(runResult) float64) []float64 {
	var out []float64
	for _, run := range r.Runs[target] {
		out = append(out, f(run))
	}
	return out
}

// pairwise maps f over the pairs of runs (subject, other) of the same round.
func (r *scenarioResult) pairwise(subject, other string, f func(a, b runResult) float64) []float64 {
	a, b := r.Runs[subject], r.Runs[other]
	var out []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		out = append(out, f(a[i], b[i]))
	}
	return out
}

func (r *scenarioResult) medTPS(t string) float64 {
	return median(r.each(t, func(x runResult) float64 { return x.TPS }))
}

func (r *scenarioResult) medLatencyUS(t string) float64 {
	return median(r.each(t, func(x runResult) float64 { return x.LatencyMS * 1000 }))
}

func (r *scenarioResult) medCPU(t string) float64 {
	return median(r.each(t, runResult.ProxyCPUPerTx))
}

func (r *scenarioResult) medHostCPU(t string) float64 {
	return median(r.each(t, runResult.HostCPUPerTx))
}

// TPSRatio is the median over pairs of subject TPS / other TPS.
func (r *scenarioResult) TPSRatio(other string) float64 {
	return median(r.pairwise(r.Scenario.Subject, other, func(a, b runResult) float64 { return a.TPS / b.TPS }))
}

// AddedLatencyUS is the median over pairs of subject latency − other latency.
func (r *scenarioResult) AddedLatencyUS(other string) float64 {
	return median(r.pairwise(r.Scenario.Subject, other, func(a, b runResult) float64 { return (a.LatencyMS - b.LatencyMS) * 1000 }))
}

// CPURatio is the median over pairs of the subject's proxy CPU per
// transaction over the other's.
func (r *scenarioResult) CPURatio(other string) float64 {
	return median(r.pairwise(r.Scenario.Subject, other, func(a, b runResult) float64 {
		return a.ProxyCPUPerTx() / b.ProxyCPUPerTx()
	}))
}

// AddedCPUUS is the median over pairs of the subject's proxy CPU per
// transaction minus the other's, in µs (for the policies scenarios: the
// policy pipeline's cost per statement).
func (r *scenarioResult) AddedCPUUS(other string) float64 {
	return median(r.pairwise(r.Scenario.Subject, other, func(a, b runResult) float64 {
		return a.ProxyCPUPerTx() - b.ProxyCPUPerTx()
	}))
}

// fanoutLines describe what the SSE subscribers of each run received.
func (r *scenarioResult) fanoutLines() []string {
	var out []string
	for _, t := range r.Scenario.Targets {
		for i, x := range r.Runs[t] {
			if x.Fanout != nil {
				out = append(out, fmt.Sprintf("%s, pair %d: %s", t, i+1, x.Fanout.text()))
			}
		}
	}
	return out
}

func (r *scenarioResult) others() []string {
	var o []string
	for _, t := range r.Scenario.Targets {
		if t != r.Scenario.Subject {
			o = append(o, t)
		}
	}
	return o
}

func num(v float64, digits int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

func signed(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%+.0f", v)
}

func signedF(v float64, digits int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%+.*f", digits, v)
}

// text is a scenario's result as a few lines for the console.
func (r *scenarioResult) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s (%s)\n", r.Scenario.Name, strings.Join(r.Scenario.args(0, "DSN")[:len(r.Scenario.args(0, "DSN"))-1], " "))
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "target\tTPS (median)\tlatency µs\tproxy CPU µs/tx\tmachine CPU µs/tx\truns TPS\t")
	for _, t := range r.Scenario.Targets {
		var runs []string
		for _, x := range r.Runs[t] {
			runs = append(runs, fmt.Sprintf("%.0f", x.TPS))
		}
		cpu := num(r.medCPU(t), 1)
		if t == "direct" {
			cpu = "–"
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.0f\t%s\t%s\t%s\t\n", t, r.medTPS(t), r.medLatencyUS(t), cpu, num(r.medHostCPU(t), 1), strings.Join(runs, " "))
	}
	w.Flush()
	if r.Err != "" {
		fmt.Fprintf(&b, "  FAILED: %s\n", r.Err)
		return b.String()
	}
	for _, o := range r.others() {
		fmt.Fprintf(&b, "  %s/%s: TPS %s, latency %s µs", r.Scenario.Subject, o, num(r.TPSRatio(o), 2), signed(r.AddedLatencyUS(o)))
		if o != "direct" {
			fmt.Fprintf(&b, ", proxy CPU/tx %s× (%s µs)", num(r.CPURatio(o), 2), signedF(r.AddedCPUUS(o), 1))
		}
		b.WriteString(" (medians of per-pair ratios)\n")
	}
	for _, l := range r.fanoutLines() {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}

func (r *report) text() string {
	return r.markdown()
}

// markdown renders the whole report as Markdown tables.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s: %s per run, %d pair(s), took %s. Machine: %s.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Duration, r.Pairs, r.Took.Round(time.Second), r.Machine)
	var main, other []*scenarioResult
	for _, s := range r.Scenarios {
		if slices.Equal(s.Scenario.Targets, []string{"direct", "pgbouncer", "hoop"}) {
			main = append(main, s)
		} else {
			other = append(other, s)
		}
	}
	if len(main) > 0 {
		b.WriteString("| pgbench -S | direct TPS | pgbouncer TPS | hoop TPS | hoop/direct | hoop/pgbouncer | latency µs direct / pgbouncer / hoop | hoop added µs vs direct / vs pgbouncer | proxy CPU µs/tx pgbouncer / hoop (hoop/pgbouncer) |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range main {
			if s.Err != "" {
				fmt.Fprintf(&b, "| %s | failed: %s |||||||\n", s.Scenario.Name, strings.ReplaceAll(strings.SplitN(s.Err, "\n", 2)[0], "|", "/"))
				continue
			}
			fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f | %s | %s | %.0f / %.0f / %.0f | %s / %s | %s / %s (%s×) |\n",
				s.Scenario.Name, s.medTPS("direct"), s.medTPS("pgbouncer"), s.medTPS("hoop"),
				num(s.TPSRatio("direct"), 2), num(s.TPSRatio("pgbouncer"), 2),
				s.medLatencyUS("direct"), s.medLatencyUS("pgbouncer"), s.medLatencyUS("hoop"),
				signed(s.AddedLatencyUS("direct")), signed(s.AddedLatencyUS("pgbouncer")),
				num(s.medCPU("pgbouncer"), 1), num(s.medCPU("hoop"), 1), num(s.CPURatio("pgbouncer"), 2))
		}
		b.WriteString("\nMachine CPU µs/tx (all processes, busy time from /proc/stat), direct / pgbouncer / hoop:\n\n")
		for _, s := range main {
			fmt.Fprintf(&b, "- %s: %s / %s / %s\n", s.Scenario.Name, num(s.medHostCPU("direct"), 1), num(s.medHostCPU("pgbouncer"), 1), num(s.medHostCPU("hoop"), 1))
		}
		b.WriteString("\n")
	}
	for _, s := range other {
		fmt.Fprintf(&b, "%s: %s\n\n", s.Scenario.Name, s.Scenario.Note)
		if s.Err != "" {
			fmt.Fprintf(&b, "failed: %s\n\n", strings.SplitN(s.Err, "\n", 2)[0])
			continue
		}
		b.WriteString("| target | TPS | latency µs | proxy CPU µs/tx |\n|---|---:|---:|---:|\n")
		for _, t := range s.Scenario.Targets {
			fmt.Fprintf(&b, "| %s | %.0f | %.0f | %s |\n", t, s.medTPS(t), s.medLatencyUS(t), num(s.medCPU(t), 1))
		}
		for _, o := range s.others() {
			fmt.Fprintf(&b, "\n%s/%s: TPS ×%s, latency %s µs, proxy CPU/tx ×%s (%s µs) (medians of per-pair ratios).\n",
				s.Scenario.Subject, o, num(s.TPSRatio(o), 2), signed(s.AddedLatencyUS(o)), num(s.CPURatio(o), 2), signedF(s.AddedCPUUS(o), 1))
		}
		if fl := s.fanoutLines(); len(fl) > 0 {
			b.WriteString("\n")
			for _, l := range fl {
				fmt.Fprintf(&b, "- %s\n", l)
			}
		}
		b.WriteString("\n")
	}
	if d := r.Decoder; d != nil {
		b.WriteString(d.markdown())
	}
	return b.String()
}

// machine describes the CPU the bench ran on.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					model = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	s := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if model != "" {
		s += " (" + model + ")"
	}
	return s + ", " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH
}
