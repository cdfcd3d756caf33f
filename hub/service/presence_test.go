package service

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

func TestAgentOfEvent(t *testing.T) {
	acc, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	upub, _ := user.PublicKey()
	encodeUser := func(name string) string {
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		tok, err := uc.Encode(acc)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	apub, _ := acc.PublicKey()
	op, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	accJWT, err := jwt.NewAccountClaims(apub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	event := func(token string) []byte {
		b, _ := json.Marshal(map[string]any{"client": map[string]any{"jwt": token, "name": "spoofed-name"}})
		return b
	}
	for _, tc := range []struct {
		name, want, err string
		data            []byte
	}{
		{name: "agent", data: event(encodeUser("web-01")), want: "web-01"},
		{name: "not a user jwt", data: event(accJWT), err: "not a user"},
		{name: "bad agent id", data: event(encodeUser("../x")), err: "agent"},
		{name: "no jwt", data: event(""), err: "not a jwt"},
		{name: "bad payload", data: event("a.!!!.c"), err: "decode claims"},
		{name: "not json", data: []byte("{"), err: "decode connection event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := agentOfEvent(tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("agentOfEvent = %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("agentOfEvent = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
