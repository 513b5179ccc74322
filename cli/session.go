package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"hoop.dev/hoop/core/api"
)

func cmdSession(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: hoop session list|show", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlags("session "+sub, stderr)
	newClient := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var live *bool
	var identity, resource *string
	switch sub {
	case "list":
		live = fs.Bool("live", false, "only sessions not yet ended")
		identity = fs.String("identity", "", "only this identity")
		resource = fs.String("resource", "", "only this resource")
	case "show":
	default:
		return fmt.Errorf("%w: unknown subcommand %q (list, show)", errUsage, sub)
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
		if len(pos) != 0 {
			return fmt.Errorf("%w: hoop session list takes no arguments", errUsage)
		}
		q := url.Values{}
		if *identity != "" {
			q.Set("identity", *identity)
		}
		if *resource != "" {
			q.Set("resource", *resource)
		}
		var out struct {
			Sessions []api.SessionJSON `json:"sessions"`
		}
		if err := c.do("GET", "/api/sessions?"+q.Encode(), nil, &out); err != nil {
			return err
		}
		list := out.Sessions[:0]
		for _, s := range out.Sessions {
			if !*live || s.Status != "ended" {
				list = append(list, s)
			}
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tIDENTITY\tKIND\tRESOURCE\tROLE\tPROTOCOL\tCLIENT\tSTATUS\tEND_REASON\tSTARTED\tENDED\tSTMTS\tBYTES_C2S\tBYTES_S2C")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", s.ID, s.Identity, s.Kind, s.Resource, s.Role,
				s.Protocol, s.ClientAddr, s.Status, dash(s.EndReason), short(s.StartedAt), dash(short(s.EndedAt)), s.Statements, s.BytesC2S, s.BytesS2C)
		}
		return tw.Flush()
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: hoop session show ID", errUsage)
	}
	var s api.SessionJSON
	if err := c.do("GET", "/api/sessions/"+url.PathEscape(pos[0]), nil, &s); err != nil {
		return err
	}
	var evs struct {
		Events []api.EventJSON `json:"events"`
	}
	if err := c.do("GET", "/api/sessions/"+url.PathEscape(pos[0])+"/events", nil, &evs); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, struct {
			api.SessionJSON
			Events []api.EventJSON `json:"events"`
		}{s, evs.Events})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{{"id", s.ID}, {"identity", s.Identity}, {"kind", s.Kind}, {"credential", s.Credential},
		{"resource", s.Resource}, {"role", s.Role}, {"protocol", s.Protocol}, {"database", s.Database}, {"client_addr", s.ClientAddr},
		{"status", s.Status}, {"end_reason", dash(s.EndReason)}, {"started_at", s.StartedAt}, {"ended_at", dash(s.EndedAt)},
		{"statements", fmt.Sprint(s.Statements)}, {"bytes_c2s", fmt.Sprint(s.BytesC2S)}, {"bytes_s2c", fmt.Sprint(s.BytesS2C)},
		{"fault", dash(s.Fault)}} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
	if len(evs.Events) > 0 {
		fmt.Fprintln(stdout, "\nevents:")
	}
	start, _ := time.Parse(time.RFC3339Nano, s.StartedAt)
	for _, e := range evs.Events {
		t, _ := time.Parse(time.RFC3339Nano, e.Time)
		off := t.Sub(start).Round(time.Millisecond)
		text := strings.ReplaceAll(e.Text, "\n", "\n                            ")
		label := e.Kind
		if e.Rule != "" {
			label += " [" + e.Rule + "]"
		}
		fmt.Fprintf(stdout, "  %5d  +%-10s %-9s %s\n", e.Seq, off, label, text)
		if e.Detail != "" {
			fmt.Fprintf(stdout, "%28s%s\n", "", e.Detail)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
