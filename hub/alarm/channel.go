package alarm

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/certfleet/certfleet/hub/config"
)

// NewSender makes the sender of a validated [[alarm]] channel.
func NewSender(ch config.AlarmConfig) (Sender, error) {
	switch ch.Type {
	case config.AlarmWebhook:
		return &Webhook{URL: ch.URL, Secret: ch.Secret}, nil
	case config.AlarmEmail:
		e := &Email{Addr: ch.SMTP, Username: ch.Username, Password: ch.Password, From: ch.From, To: ch.To, Insecure: ch.Insecure}
		if ch.CAFile != "" {
			pem, err := os.ReadFile(ch.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read alarm %s ca_file: %w", ch.Name, err)
			}
			e.RootCAs = x509.NewCertPool()
			if !e.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("alarm %s ca_file %s: no PEM certificate in it", ch.Name, ch.CAFile)
			}
		}
		return e, nil
	}
	return nil, fmt.Errorf("alarm %s: unknown type %q", ch.Name, ch.Type)
}
