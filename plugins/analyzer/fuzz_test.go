package analyzer

import (
	"strings"
	"testing"

	"hoop.dev/hoop/sdk"
)

// FuzzEvaluate checks that Evaluate never panics or fails, keeps the risk
// in 0-100, and that the decision always follows the thresholds.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		"drop table users", "delete from t where (1=1 or (a = a))", "copy t to program 'x'",
		"do $$ begin execute 'delete from t'; end $$", "select * from billing.payments",
		"with d as (delete from t returning *) select 1", "update t set a = 1 where ((",
		"/*!50000 DELETE */ FROM t", "delete from t where ((((1))))",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	p := configured(f, testConfig)
	f.Fuzz(func(t *testing.T, text string, mysql bool) {
		protocol := "postgres"
		if mysql {
			protocol = "mysql"
		}
		v, err := p.Evaluate(input(protocol, text))
		if err != nil {
			t.Fatalf("Evaluate: %v", err)
		}
		if v.Risk < 0 || v.Risk > 100 {
			t.Fatalf("risk %d", v.Risk)
		}
		want := sdk.Allow
		switch {
		case v.Risk >= DefaultBlockAt:
			want = sdk.Block
		case v.Risk >= DefaultReviewAt:
			want = sdk.Review
		}
		if v.Decision != want {
			t.Fatalf("risk %d decided %s, want %s", v.Risk, v.Decision, want)
		}
		if (v.Rule == "") != (v.Risk == 0) || !strings.HasPrefix(v.Reason, "risk ") && v.Risk != 0 {
			t.Fatalf("verdict %+v", v)
		}
	})
}
