package api

import (
	"errors"
	"net/http"

	"hoop.dev/hoop/core/review"
	"hoop.dev/hoop/core/store"
)

// ReviewJSON is a review as the API shows it.
type ReviewJSON struct {
	ID        string `json:"id"`
	Session   string `json:"session"`
	Identity  string `json:"identity"`
	Kind      string `json:"kind"`
	Resource  string `json:"resource"`
	Role      string `json:"role"`
	Statement string `json:"statement"`
	Risk      int    `json:"risk"`
	Policy    string `json:"policy"`
	Rule      string `json:"rule"`
	Reason    string `json:"reason"`
	Status    string `json:"status"`
	DecidedBy string `json:"decided_by"`
	Note      string `json:"note"`
	CreatedAt string `json:"created_at"`
	DecidedAt string `json:"decided_at"`
}

func reviewJSON(r store.Review) ReviewJSON {
	return ReviewJSON{ID: r.ID, Session: r.Session, Identity: r.Identity, Kind: r.Kind, Resource: r.Resource, Role: r.Role,
		Statement: r.Statement, Risk: r.Risk, Policy: r.Policy, Rule: r.Rule, Reason: r.Reason, Status: r.Status,
		DecidedBy: r.DecidedBy, Note: r.Note, CreatedAt: fmtTime(r.CreatedAt), DecidedAt: fmtTime(r.DecidedAt)}
}

// ReviewRoutes registers the review endpoints:
//
//	GET  /api/reviews?status=pending
//	GET  /api/reviews/{id}
//	POST /api/reviews/{id}/approve  {"by","reason"}
//	POST /api/reviews/{id}/reject   {"by","reason"}
func ReviewRoutes(mux *http.ServeMux, svc *review.Service) {
	mux.HandleFunc("GET /api/reviews", func(w http.ResponseWriter, r *http.Request) {
		list, err := svc.List(r.Context(), r.URL.Query().Get("status"))
		if err != nil {
			WriteError(w, ErrorStatus(err), err.Error())
			return
		}
		out := make([]ReviewJSON, 0, len(list))
		for _, rv := range list {
			out = append(out, reviewJSON(rv))
		}
		WriteJSON(w, http.StatusOK, map[string]any{"reviews": out})
	})
	mux.HandleFunc("GET /api/reviews/{id}", func(w http.ResponseWriter, r *http.Request) {
		rv, err := svc.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			WriteError(w, ErrorStatus(err), err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, reviewJSON(rv))
	})
	decide := func(approve bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				By     string `json:"by"`
				Reason string `json:"reason"`
			}
			if r.ContentLength != 0 && !DecodeBody(w, r, &req) {
				return
			}
			rv, err := svc.Decide(r.Context(), r.PathValue("id"), approve, req.By, req.Reason)
			switch {
			case errors.Is(err, review.ErrNotPending):
				WriteError(w, http.StatusConflict, err.Error())
			case err != nil:
				WriteError(w, ErrorStatus(err), err.Error())
			default:
				WriteJSON(w, http.StatusOK, reviewJSON(rv))
			}
		}
	}
	mux.HandleFunc("POST /api/reviews/{id}/approve", decide(true))
	mux.HandleFunc("POST /api/reviews/{id}/reject", decide(false))
}
