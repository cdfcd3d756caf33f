package simfleet

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/datadir"
	"github.com/certfleet/certfleet/shared"
)

// Admin talks to a running hub's admin API with the admin credentials, as
// the certfleet-hub CLI does, over one connection.
type Admin struct {
	nc *nats.Conn
	c  *admin.Client
}

// DialAdmin connects to the hub's NATS at url with the admin credentials
// file and the CA the hub's certificate chains to ("" for system roots).
func DialAdmin(url, creds, ca string) (*Admin, error) {
	opts := []nats.Option{nats.Name("certfleet-simfleet"), nats.UserCredentials(creds), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond)}
	if ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to the hub's admin api at %s: %w", url, err)
	}
	return &Admin{nc: nc, c: &admin.Client{NC: nc, Timeout: time.Minute}}, nil
}

// DialAdminDataDir connects to the hub that runs on dataDir, finding it
// through its run file, with the credentials and CA `init` wrote there.
func DialAdminDataDir(dataDir string) (*Admin, error) {
	rf, err := datadir.Dir(dataDir).ReadRunFile()
	if err != nil {
		return nil, err
	}
	return DialAdmin(rf.NATSURL, datadir.Dir(dataDir).AdminCredsFile(), datadir.Dir(dataDir).CAFile())
}

// Close closes the connection.
func (a *Admin) Close() { a.nc.Close() }

// Call sends one admin request.
func (a *Admin) Call(ctx context.Context, verb string, req, reply any) error {
	return a.c.Call(ctx, verb, req, reply)
}

// AddAgents registers the agents ids with allow(id) as their allow lists
// and returns their enrollments, in the order of ids. The hub answers
// admin requests one after another; up to parallel of them are kept in
// flight so the hub never waits for the next one.
func (a *Admin) AddAgents(ctx context.Context, ids []string, allow func(id string) []string, parallel int) ([]*shared.Enrollment, error) {
	out := make([]*shared.Enrollment, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for i, id := range ids {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			var rep admin.AgentAddReply
			err := a.c.Call(gctx, admin.VerbAgentAdd, admin.AgentAddRequest{Name: id, Allow: allow(id)}, &rep)
			if err == nil && rep.Enrollment == nil {
				err = fmt.Errorf("agent %s exists already: the hub issued no new credentials", id)
			}
			if err != nil {
				return fmt.Errorf("add agent %s: %w", id, err)
			}
			out[i] = rep.Enrollment
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// StatusPage returns one page of the fleet view.
func (a *Admin) StatusPage(ctx context.Context, after string, limit int) (admin.StatusReply, error) {
	var r admin.StatusReply
	err := a.c.Call(ctx, admin.VerbStatus, admin.StatusRequest{After: after, Limit: limit}, &r)
	return r, err
}

// StatusWalk reads the whole fleet view page by page, as `certfleet-hub
// status` does, and returns the number of pages, agents and certificate
// records.
func (a *Admin) StatusWalk(ctx context.Context) (pages, agents, certs int, err error) {
	after := ""
	for {
		r, err := a.StatusPage(ctx, after, admin.DefaultStatusLimit)
		if err != nil {
			return pages, agents, certs, err
		}
		pages++
		agents += len(r.Agents)
		certs += len(r.Certs)
		if r.Next == "" {
			return pages, agents, certs, nil
		}
		after = r.Next
	}
}
