package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"

	"hoop.dev/hoop/core/api"
)

func init() { extraCommands["review"] = cmdReview }

func cmdReview(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: hoop review list|approve|reject", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlags("review "+sub, stderr)
	newClient := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var all *bool
	var reason, by *string
	switch sub {
	case "list":
		all = fs.Bool("all", false, "all reviews, not only pending ones")
	case "approve", "reject":
		reason = fs.String("reason", "", "why (recorded with the decision)")
		by = fs.String("by", os.Getenv("USER"), "who decides (recorded)")
	default:
		return fmt.Errorf("%w: unknown subcommand %q (list, approve, reject)", errUsage, sub)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	if sub == "list" {
		q := "?status=pending"
		if *all {
			q = ""
		}
		var out struct {
			Reviews []api.ReviewJSON `json:"reviews"`
		}
		if err := c.do("GET", "/api/reviews"+q, nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out.Reviews)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tIDENTITY\tRESOURCE\tRISK\tRULE\tSTATEMENT\tREASON")
		for _, r := range out.Reviews {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%d\t%s/%s\t%s\t%s\n", r.ID, r.Status, r.Identity, r.Resource, r.Role, r.Risk, r.Policy, r.Rule, clip(r.Statement, 60), clip(r.Reason, 60))
		}
		return tw.Flush()
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: hoop review %s ID [--reason TEXT]", errUsage, sub)
	}
	var out api.ReviewJSON
	if err := c.do("POST", "/api/reviews/"+url.PathEscape(pos[0])+"/"+sub, map[string]string{"by": *by, "reason": *reason}, &out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "review %s %s by %s: %s\n", out.ID, out.Status, out.DecidedBy, clip(out.Statement, 80))
	return nil
}

func clip(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\t' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
