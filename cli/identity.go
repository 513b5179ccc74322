package main

import (
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	"hoop.dev/hoop/core/api"
)

func cmdIdentity(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: hoop identity create|list|rotate|revoke", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlags("identity "+sub, stderr)
	newClient := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var resource, role, kind, expires *string
	switch sub {
	case "create":
		kind = fs.String("kind", "machine", "machine or human")
		expires = fs.String("expires", "", "lifetime, e.g. 720h (default: never)")
		fallthrough
	case "rotate", "revoke":
		resource = fs.String("resource", "", "resource name")
		role = fs.String("role", "", "role name")
	case "list":
	default:
		return fmt.Errorf("%w: unknown subcommand %q (create, list, rotate, revoke)", errUsage, sub)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(pos) != want {
		return fmt.Errorf("%w: hoop identity %s takes %d name argument(s), got %d", errUsage, sub, want, len(pos))
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if *resource == "" || *role == "" {
			return fmt.Errorf("%w: --resource and --role are required", errUsage)
		}
		var out api.IssuedJSON
		body := map[string]string{"name": pos[0], "kind": *kind, "resource": *resource, "role": *role, "expires": *expires}
		if err := c.do("POST", "/api/identities", body, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		printIssued(stdout, out)
	case "rotate":
		var out struct {
			Issued        []api.IssuedJSON `json:"issued"`
			SessionsEnded int              `json:"sessions_ended"`
		}
		if err := c.do("POST", "/api/identities/"+url.PathEscape(pos[0])+"/rotate", map[string]string{"resource": *resource, "role": *role}, &out); err != nil {
			return err
		}
		if *asJSON {
			if len(out.Issued) == 1 {
				return printJSON(stdout, out.Issued[0])
			}
			return printJSON(stdout, out.Issued)
		}
		for _, iss := range out.Issued {
			printIssued(stdout, iss)
		}
		fmt.Fprintf(stdout, "old credentials revoked; %d live session(s) ended\n", out.SessionsEnded)
	case "revoke":
		var out struct {
			Revoked       []string `json:"revoked"`
			SessionsEnded int      `json:"sessions_ended"`
		}
		if err := c.do("POST", "/api/identities/"+url.PathEscape(pos[0])+"/revoke", map[string]string{"resource": *resource, "role": *role}, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		fmt.Fprintf(stdout, "revoked %d credential(s) of %s; %d live session(s) ended\n", len(out.Revoked), pos[0], out.SessionsEnded)
	case "list":
		var out struct {
			Identities []api.IdentityJSON `json:"identities"`
		}
		if err := c.do("GET", "/api/identities", nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out.Identities)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IDENTITY\tKIND\tCREDENTIAL\tRESOURCE\tROLE\tSTATUS\tCREATED\tEXPIRES")
		for _, id := range out.Identities {
			if len(id.Credentials) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t%s\t-\n", id.Name, id.Kind, short(id.CreatedAt))
			}
			for _, cr := range id.Credentials {
				exp := cr.ExpiresAt
				if exp == "" {
					exp = "never"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id.Name, id.Kind, cr.ID, cr.Resource, cr.Role, cr.Status, short(cr.CreatedAt), short(exp))
			}
		}
		return tw.Flush()
	}
	return nil
}

func printIssued(w io.Writer, iss api.IssuedJSON) {
	fmt.Fprintf(w, "identity:   %s (%s)\ncredential: %s for %s/%s\n", iss.Identity, iss.Kind, iss.CredentialID, iss.Resource, iss.Role)
	if iss.ExpiresAt != "" {
		fmt.Fprintf(w, "expires:    %s\n", iss.ExpiresAt)
	}
	fmt.Fprintf(w, "secret:     %s\n\nThe secret is shown once and hoop keeps only its hash. Connect with:\n  psql %q\n\n", iss.Secret, iss.DSN)
}

// short trims an RFC 3339 time to the second.
func short(t string) string {
	if len(t) > 19 {
		return t[:19] + "Z"
	}
	return t
}
