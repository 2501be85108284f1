// esxi-sim-server: serves govmomi's vSphere API simulator as ONE standalone
// ESXi host (no VMs) over HTTPS on a loopback address, for provider tests.
// Optionally it plays conditions of real hosts (conditions.go); node VMs' guests are
// played as a healthy node image would behave, unless told otherwise (guest.go).
//
// It prints one JSON line (url, address, user, password, SHA-256 thumbprint)
// to stdout, then serves until stdin reaches EOF or SIGINT/SIGTERM arrives.
// Watching stdin means the server dies with its parent (the pipe closes).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// methodDelays collects repeatable -method-delay Method=MS flags.
type methodDelays map[string]int

func (m methodDelays) String() string { return fmt.Sprint(map[string]int(m)) }
func (m methodDelays) Set(v string) error {
	name, ms, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(ms)
	if !ok || name == "" || err != nil || n < 0 {
		return fmt.Errorf("want Method=MS, got %q", v)
	}
	m[name] = n
	return nil
}

var tmp string // private TMPDIR, removed on every exit path

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "esxi-sim-server:", err)
		os.RemoveAll(tmp) // os.Exit skips deferred calls
		os.Exit(1)
	}
}

// selfSigned makes a fresh ECDSA P-256 cert for 127.0.0.1/localhost. The
// simulator's built-in cert is a shared 1024-bit RSA test cert: OpenSSL 3
// rejects it as "key too weak", and every host would get the same thumbprint.
func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	check(err)
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "esxi-sim"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true, // lets clients trust it directly
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "host:port to listen on (port 0 = random)")
	latency := flag.Int("latency-ms", 0, "delay in ms added to every HTTP request (SOAP call or datastore file)")
	image := flag.String("image", "", "make a 1 GB base disk at this datastore path (e.g. images/k8s.vmdk)")
	free := flag.Bool("free-license", false, "play the free vSphere Hypervisor licence: writes fail with RestrictedVersion")
	capacity := flag.String("datastore-capacity", "", "datastore size, all free (e.g. 40G); default: its file system's")
	delays := methodDelays{}
	flag.Var(delays, "method-delay", "Method=MS extra delay for one method (repeatable)")
	reportAfter := flag.Int("report-after-ms", 100, "ms from a node VM's power-on to its guest's readiness report")
	report := flag.Bool("node-report", true, "node VMs report ready as a healthy image does (false: they say nothing)")
	behaviours := guestBehaviours{}
	flag.Var(behaviours, "node", "VM=ready|failing|failed|hung|silent: how that VM's guest behaves (repeatable)")
	flag.Parse()

	// Datastore folders go under TMPDIR; keep them in a private dir we remove.
	var err error
	tmp, err = os.MkdirTemp("", "esxi-sim-")
	check(err)
	defer os.RemoveAll(tmp)
	os.Setenv("TMPDIR", tmp)

	// Random per-start password; the simulator then requires exactly root/<pw>.
	buf := make([]byte, 12)
	_, err = rand.Read(buf)
	check(err)
	user, password := "root", hex.EncodeToString(buf)

	model := simulator.ESX()                                       // one standalone host, one local datastore
	model.Machine = 0                                              // empty inventory: no VMs
	model.DelayConfig = simulator.DelayConfig{MethodDelay: delays} // -latency-ms: see perRequest
	check(model.Create())
	defer model.Remove()

	// NewServer listens on Service.Listen.Host ("" => 127.0.0.1:0) and
	// checks logins against Service.Listen.User when it is set.
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(user, password)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned()}} // HTTPS
	server := model.Service.NewServer()
	server.Config.Handler = perRequest(time.Duration(*latency)*time.Millisecond,
		firstContact(playGuests(time.Duration(*reportAfter)*time.Millisecond, *report, behaviours,
			server.Config.Handler)))
	// No server.Close(): it blocks on in-flight (possibly delayed) calls;
	// process exit closes the listener and connections anyway.

	if *image != "" {
		check(makeBaseDisk(server.URL, *image))
	}
	if *capacity != "" {
		size, err := parseSize(*capacity)
		check(err)
		setDatastoreCapacity(size)
	}
	if *free { // after the base disk: an admin uploads it through the host's file service
		playFreeLicense(server)
	}

	sum := sha256.Sum256(server.Certificate().Raw)
	thumb := strings.TrimSpace(strings.ToUpper(fmt.Sprintf("% X", sum[:])))
	u := *server.URL
	u.User = nil // keep the password out of the url field
	line, _ := json.Marshal(map[string]string{"url": u.String(), "address": u.Host,
		"user": user, "password": password, "thumbprint": strings.ReplaceAll(thumb, " ", ":")})
	fmt.Println(string(line)) // os.Stdout is unbuffered: one line, already flushed

	// Serve until stdin EOF (parent gone / closed pipe) or a signal.
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); done <- struct{}{} }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; done <- struct{}{} }()
	<-done
	// Deferred (run on return): model.Remove, RemoveAll(tmp).
}

// perRequest delays every request the host serves by the same latency, as a host across a
// WAN does: each SOAP call and each datastore file GET/PUT is one round trip. (The simulator's
// own DelayConfig.Delay is charged per internal call too: its /folder handler looks the
// datastore up through ~5 in-process calls, so a file transfer cost 5 round trips.) It is
// set before the address is printed, so no request is served without it.
func perRequest(latency time.Duration, next http.Handler) http.Handler {
	if latency <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		next.ServeHTTP(w, r)
	})
}

// firstContact gives a SOAP call that carries no session cookie a new session, as hostd
// does: a real host answers even RetrieveServiceContent with a vmware_soap_session cookie,
// and a Login on that session makes it a logged-in one. vcsim sets the cookie at Login only,
// so without this a client that sent its first calls side by side would pass here and fail
// on a real host (the first call's cookie can replace the logged-in one).
func firstContact(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(sessionCookie); err == nil || r.URL.Path != "/sdk" {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&newSession{ResponseWriter: w}, r)
	})
}

const sessionCookie = "vmware_soap_session"

// newSession adds a fresh session cookie to an answer that sets none of its own.
type newSession struct {
	http.ResponseWriter
	started bool
}

func (s *newSession) WriteHeader(code int) {
	if !s.started && s.Header().Get("Set-Cookie") == "" {
		key := make([]byte, 16)
		_, _ = rand.Read(key)
		http.SetCookie(s.ResponseWriter, &http.Cookie{
			Name: sessionCookie, Value: hex.EncodeToString(key), HttpOnly: true})
	}
	s.started = true
	s.ResponseWriter.WriteHeader(code)
}

func (s *newSession) Write(b []byte) (int, error) {
	if !s.started {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// makeBaseDisk puts a base disk on the host's datastore, as an admin would upload the node
// image, so examples can make clusters right away. It talks to the host like any client.
func makeBaseDisk(u *url.URL, path string) error {
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	dc, err := find.NewFinder(c.Client).DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	folder := path[:strings.LastIndex(path, "/")+1]
	if folder != "" {
		err = object.NewFileManager(c.Client).MakeDirectory(ctx, "[LocalDS_0] "+folder, dc, true)
		if err != nil {
			return err
		}
	}
	spec := &types.FileBackedVirtualDiskSpec{
		VirtualDiskSpec: types.VirtualDiskSpec{DiskType: "thin", AdapterType: "lsiLogic"},
		CapacityKb:      1024 * 1024,
	}
	task, err := object.NewVirtualDiskManager(c.Client).CreateVirtualDisk(ctx, "[LocalDS_0] "+path, dc, spec)
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}
