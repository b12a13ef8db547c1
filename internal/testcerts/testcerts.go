// Package testcerts makes throwaway certificates for the tests of TLS: a CA
// and a server and a client certificate it signs, written as PEM files a
// Go client and a Kafka broker (ssl.keystore.type=PEM) both read. Each call
// makes fresh keys (ECDSA P-256, valid for a day); nothing is kept between
// runs. Safe for concurrent use.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Set is a CA with a server and a client certificate, and the paths of
// their PEM files.
type Set struct {
	// CA is the CA's certificate (PEM), for --tls-ca.
	CA string
	// ServerCert and ServerKey are the server's certificate and key;
	// ServerKeystore is both in one file (the key as PKCS#8 first), a
	// Kafka PEM keystore.
	ServerCert, ServerKey, ServerKeystore string
	// ClientCert and ClientKey are a client certificate and its key.
	ClientCert, ClientKey string

	// Server is the server's key pair, for an in-process TLS listener.
	Server tls.Certificate
	// Pool holds the CA, for an in-process client.
	Pool *x509.CertPool
}

// New writes a fresh Set into dir, the server certificate valid for hosts
// (IP addresses or DNS names).
func New(dir string, hosts ...string) (*Set, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "cartwatch test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	s := &Set{Pool: x509.NewCertPool()}
	s.Pool.AddCert(ca)
	s.CA = filepath.Join(dir, "ca.pem")
	if err := writePEM(s.CA, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	leaf := func(name string, usage x509.ExtKeyUsage, hosts []string) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		pk, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), nil
	}
	cert, key, err := leaf("cartwatch test server", x509.ExtKeyUsageServerAuth, hosts)
	if err != nil {
		return nil, err
	}
	if s.Server, err = tls.X509KeyPair(cert, key); err != nil {
		return nil, err
	}
	s.ServerCert, s.ServerKey, s.ServerKeystore = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"),
		filepath.Join(dir, "server-keystore.pem")
	for _, w := range []struct {
		path string
		b    []byte
	}{{s.ServerCert, cert}, {s.ServerKey, key}, {s.ServerKeystore, append(append([]byte{}, key...), cert...)}} {
		if err := os.WriteFile(w.path, w.b, 0o600); err != nil {
			return nil, err
		}
	}
	cert, key, err = leaf("cartwatch test client", x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, err
	}
	s.ClientCert, s.ClientKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(s.ClientCert, cert, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.ClientKey, key, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return n
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
