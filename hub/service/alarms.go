package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub/alarm"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/store"
)

// alarmEvery is how often the [[alarm]] channels are brought up to date.
const alarmEvery = time.Minute

// staleClaim: a "sending" or "resolving" record older than this belongs
// to a hub that died mid-send; another hub takes it over (so a crash can
// repeat a message, never lose one).
const staleClaim = 5 * time.Minute

// alarmSendTimeout bounds one delivery, retries included.
const alarmSendTimeout = 2 * time.Minute

type alarmChannel struct {
	cfg    config.AlarmConfig
	sender alarm.Sender
}

// setupAlarms makes the sender of every [[alarm]] channel.
func (h *Hub) setupAlarms() error {
	h.alarmChans = nil
	for _, ch := range h.cfg.Alarm {
		s, err := alarm.NewSender(ch)
		if err != nil {
			return err
		}
		h.alarmChans = append(h.alarmChans, alarmChannel{cfg: ch, sender: s})
	}
	return nil
}

// runAlarms brings every channel up to date every alarmEvery until ctx ends.
func (h *Hub) runAlarms(ctx context.Context) error {
	if len(h.alarmChans) == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(alarmEvery)
	defer t.Stop()
	for {
		h.deliverAlarms(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// deliverAlarms evaluates every channel's thresholds on the whole fleet
// (the snapshot, agent by agent) and sends what changed: newly raised
// conditions and cleared ones.
func (h *Hub) deliverAlarms(ctx context.Context) {
	now := time.Now().UTC()
	all := h.fleet.All()
	for _, ch := range h.alarmChans {
		var held []alarm.Condition
		for _, a := range all {
			held = append(held, alarm.EvaluateAgent(ch.cfg, now, a.Record, a.Status)...)
		}
		if err := h.deliverChannel(ctx, ch, held); err != nil {
			h.log.Warn("alarm channel", "channel", ch.cfg.Name, "err", err)
		}
	}
}

func (h *Hub) deliverChannel(ctx context.Context, ch alarmChannel, conds []alarm.Condition) error {
	now := time.Now().UTC()
	held := map[string]alarm.Condition{}
	for _, c := range conds {
		held[c.Key()] = c
	}
	recs, bad, err := h.store.ListAlarms(ctx, ch.cfg.Name)
	if err != nil {
		return err
	}
	h.logDamaged("alarm records", bad)
	known := map[string]bool{}
	for _, rec := range recs {
		known[rec.Condition] = true
		if _, ok := held[rec.Condition]; ok {
			switch {
			case rec.State == store.AlarmSending && now.Sub(rec.Claimed) > staleClaim:
				h.raise(ctx, ch, held[rec.Condition], now)
			case rec.State == store.AlarmResolving && now.Sub(rec.Claimed) > staleClaim:
				// A hub died sending "resolved" and the condition is back:
				// the channel's last word may be either; keep it raised.
				h.reclaimRaised(ctx, ch, rec.Condition)
			}
			continue
		}
		if rec.State == store.AlarmRaised || now.Sub(rec.Claimed) > staleClaim {
			h.resolve(ctx, ch, rec.Condition, now)
		}
	}
	for key, c := range held {
		if !known[key] {
			h.raise(ctx, ch, c, now)
		}
	}
	return nil
}

// raise claims c for the channel (create, or take over a stale claim) and
// sends it. A failed send drops the claim so the next round tries again.
func (h *Hub) raise(ctx context.Context, ch alarmChannel, c alarm.Condition, now time.Time) {
	rec := store.AlarmRecord{Channel: ch.cfg.Name, Condition: c.Key(), Kind: c.Kind, Agent: c.Agent, Cert: c.Cert,
		Message: c.Message, Since: c.Since, State: store.AlarmSending, Claimed: now}
	var rev uint64
	cur, curRev, err := h.store.GetAlarm(ctx, ch.cfg.Name, c.Key())
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := h.store.CreateAlarm(ctx, rec); err != nil {
			if !errors.Is(err, store.ErrExists) {
				h.log.Warn("claim alarm", "channel", ch.cfg.Name, "condition", c.Key(), "err", err)
			}
			return // another hub has it
		}
		if _, rev, err = h.store.GetAlarm(ctx, ch.cfg.Name, c.Key()); err != nil {
			h.log.Warn("read claimed alarm", "channel", ch.cfg.Name, "condition", c.Key(), "err", err)
			return
		}
	case err != nil:
		h.log.Warn("read alarm", "channel", ch.cfg.Name, "condition", c.Key(), "err", err)
		return
	case cur.State == store.AlarmSending && now.Sub(cur.Claimed) > staleClaim:
		if rev, err = h.store.UpdateAlarm(ctx, rec, curRev); err != nil {
			return // another hub took it over first
		}
	default:
		return
	}
	sctx, cancel := context.WithTimeout(ctx, alarmSendTimeout)
	err = ch.sender.Send(sctx, alarm.Event{Channel: ch.cfg.Name, State: alarm.StateRaised, Condition: c, Hub: h.cfg.DNS.Domain, Time: now})
	cancel()
	if err != nil {
		h.log.Warn("send alarm; will retry", "channel", ch.cfg.Name, "condition", c.Key(), "err", err)
		if err := h.store.DeleteAlarm(ctx, rec, rev); err != nil {
			h.log.Warn("drop alarm claim", "channel", ch.cfg.Name, "condition", c.Key(), "err", err)
		}
		return
	}
	h.log.Info("alarm sent", "channel", ch.cfg.Name, "state", alarm.StateRaised, "kind", c.Kind, "agent", c.Agent, "cert", c.Cert)
	rec.State, rec.Claimed, rec.Raised = store.AlarmRaised, time.Now().UTC(), now
	if _, err := h.store.UpdateAlarm(ctx, rec, rev); err != nil {
		h.log.Warn("record alarm sent", "channel", ch.cfg.Name, "condition", c.Key(), "err", err)
	}
}

// resolve claims a cleared condition and sends "resolved"; the record is
// then deleted, so the condition can be raised again later.
func (h *Hub) resolve(ctx context.Context, ch alarmChannel, key string, now time.Time) {
	cur, rev, err := h.store.GetAlarm(ctx, ch.cfg.Name, key)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.Warn("read alarm", "channel", ch.cfg.Name, "condition", key, "err", err)
		}
		return
	}
	if cur.State != store.AlarmRaised && now.Sub(cur.Claimed) <= staleClaim {
		return
	}
	if cur.State == store.AlarmSending {
		// The hub that claimed it died before sending: nothing was raised.
		_ = h.store.DeleteAlarm(ctx, cur, rev)
		return
	}
	prev := cur
	cur.State, cur.Claimed = store.AlarmResolving, now
	if rev, err = h.store.UpdateAlarm(ctx, cur, rev); err != nil {
		return // another hub has it
	}
	c := alarm.Condition{Kind: cur.Kind, Agent: cur.Agent, Cert: cur.Cert, Since: cur.Since,
		Message: fmt.Sprintf("cleared: %s", cur.Message)}
	sctx, cancel := context.WithTimeout(ctx, alarmSendTimeout)
	err = ch.sender.Send(sctx, alarm.Event{Channel: ch.cfg.Name, State: alarm.StateResolved, Condition: c, Hub: h.cfg.DNS.Domain, Time: now})
	cancel()
	if err != nil {
		h.log.Warn("send resolved alarm; will retry", "channel", ch.cfg.Name, "condition", key, "err", err)
		prev.Claimed = time.Now().UTC()
		if _, err := h.store.UpdateAlarm(ctx, prev, rev); err != nil {
			h.log.Warn("restore alarm record", "channel", ch.cfg.Name, "condition", key, "err", err)
		}
		return
	}
	h.log.Info("alarm sent", "channel", ch.cfg.Name, "state", alarm.StateResolved, "kind", cur.Kind, "agent", cur.Agent, "cert", cur.Cert)
	if err := h.store.DeleteAlarm(ctx, cur, rev); err != nil {
		h.log.Warn("forget resolved alarm", "channel", ch.cfg.Name, "condition", key, "err", err)
	}
}

// reclaimRaised marks a stale "resolving" record raised again.
func (h *Hub) reclaimRaised(ctx context.Context, ch alarmChannel, key string) {
	cur, rev, err := h.store.GetAlarm(ctx, ch.cfg.Name, key)
	if err != nil || cur.State != store.AlarmResolving {
		return
	}
	cur.State, cur.Claimed = store.AlarmRaised, time.Now().UTC()
	if _, err := h.store.UpdateAlarm(ctx, cur, rev); err != nil && !errors.Is(err, store.ErrConflict) {
		h.log.Warn("reclaim alarm", "channel", ch.cfg.Name, "condition", key, "err", err)
	}
}
