// Guests: what the host sees of a node VM's guest, played as a healthy node image would
// (VMware Tools running, a readiness report in guestinfo.photon.status shortly after each
// boot), unless told otherwise per VM. And one thing of real ESXi that vcsim 0.24 lacks: a
// changed extraConfig (a key set again, or set by a guest) replaces the old value and is told
// to watchers; vcsim appends a duplicate and tells nobody.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Behaviours a node VM's guest can play (-node NAME=BEHAVIOUR).
const (
	guestReady   = "ready"   // reports ready, Tools heartbeat green
	guestFailing = "failing" // reports failing (its component unhealthy for 30 s)
	guestFailed  = "failed"  // reports failed (cloud-init ended in error)
	guestHung    = "hung"    // Tools heartbeat red, no report
	guestSilent  = "silent"  // nothing: no Tools, no report (an image without them)
)

const statusKey = "guestinfo.photon.status"

// guestBehaviours collects repeatable -node NAME=BEHAVIOUR flags (NAME: the VM's name).
type guestBehaviours map[string]string

func (g guestBehaviours) String() string { return fmt.Sprint(map[string]string(g)) }
func (g guestBehaviours) Set(v string) error {
	name, behaviour, ok := strings.Cut(v, "=")
	switch behaviour {
	case guestReady, guestFailing, guestFailed, guestHung, guestSilent:
	default:
		ok = false
	}
	if !ok || name == "" {
		return fmt.Errorf("want VM=ready|failing|failed|hung|silent, got %q", v)
	}
	g[name] = behaviour
	return nil
}

// guests plays every node VM's guest; one tick goes over all VMs.
type guests struct {
	after      time.Duration // from power-on to the guest's report
	report     bool          // false: node VMs say nothing unless named
	behaviours guestBehaviours
	mu         sync.Mutex
	boots      map[string]*guestBoot // by VM moid
	configs    map[string]int        // how many extraConfig options watchers were told of, by VM
}

type guestBoot struct {
	at     time.Time // when this tick first saw the boot
	bootAt string    // the VM's summary.runtime.bootTime, which changes at each power-on
	done   bool      // the guest has come up (reported, or hung)
}

// playGuests starts the guests' clock and returns the handler that serves every API call
// after a look at the guests: a call that follows a change (a guest's info-set, a key set
// again) sees it told, as on ESXi, where the change is in the update stream at once.
func playGuests(after time.Duration, report bool, behaviours guestBehaviours, next http.Handler) http.Handler {
	g := &guests{after: after, report: report, behaviours: behaviours,
		boots: map[string]*guestBoot{}, configs: map[string]int{}}
	go func() {
		for range time.Tick(50 * time.Millisecond) {
			g.tick()
		}
	}()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sdk" {
			g.tick()
		}
		next.ServeHTTP(w, r)
	})
}

func (g *guests) tick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, entity := range simulator.Map.All("VirtualMachine") {
		vm, ok := entity.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			g.tellExtraConfig(vm)
			g.playBoot(vm)
		})
	}
}

// tellExtraConfig keeps the last value of each key (as ESXi does) and tells watchers of a
// change that nobody told them of: vcsim appends each option set (setOption tells its own),
// so a count that grew is a change. A VM is first only looked at: it may still be being made
// (vcsim fills its extraConfig outside any lock this tick could take).
func (g *guests) tellExtraConfig(vm *simulator.VirtualMachine) {
	if vm.Config == nil {
		return
	}
	told, known := g.configs[vm.Self.Value]
	g.configs[vm.Self.Value] = len(vm.Config.ExtraConfig)
	if !known || told == len(vm.Config.ExtraConfig) {
		return
	}
	options, seen := []types.BaseOptionValue{}, map[string]int{}
	for _, option := range vm.Config.ExtraConfig {
		key := option.GetOptionValue().Key
		if i, found := seen[key]; found {
			options[i] = option
			continue
		}
		seen[key] = len(options)
		options = append(options, option)
	}
	vm.Config.ExtraConfig = options
	g.tell(vm)
}

// tell gives watchers the VM's extraConfig as it is now.
func (g *guests) tell(vm *simulator.VirtualMachine) {
	g.configs[vm.Self.Value] = len(vm.Config.ExtraConfig)
	simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.extraConfig", Val: vm.Config.ExtraConfig}})
}

// playBoot follows a node VM's boots: at power-on its Tools are not running yet (gray);
// after g.after the guest comes up as its behaviour says.
func (g *guests) playBoot(vm *simulator.VirtualMachine) {
	if option(vm, "photon.node") == "" || vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		delete(g.boots, vm.Self.Value)
		return
	}
	bootAt := fmt.Sprint(vm.Summary.Runtime.BootTime)
	boot := g.boots[vm.Self.Value]
	if boot == nil || boot.bootAt != bootAt {
		boot = &guestBoot{at: time.Now(), bootAt: bootAt}
		g.boots[vm.Self.Value] = boot
		setTools(vm, types.ManagedEntityStatusGray, types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
	}
	if boot.done || time.Since(boot.at) < g.after {
		return
	}
	boot.done = true
	behaviour, named := g.behaviours[vm.Name]
	if !named {
		behaviour = guestReady
		if !g.report || option(vm, "photon.reports") == "" {
			behaviour = guestSilent
		}
	}
	switch behaviour {
	case guestSilent:
		return
	case guestHung:
		setTools(vm, types.ManagedEntityStatusRed, types.VirtualMachineToolsRunningStatusGuestToolsRunning)
		return
	}
	setTools(vm, types.ManagedEntityStatusGreen, types.VirtualMachineToolsRunningStatusGuestToolsRunning)
	reasons := map[string]string{guestReady: "", guestFailing: "kubelet: unhealthy for 30s (simulated)",
		guestFailed: "cloud-init: runcmd failed (simulated)"}
	report, _ := json.Marshal(map[string]string{"phase": behaviour, "reason": reasons[behaviour],
		"version": option(vm, "photon.version"), "boot": randomID()})
	g.setOption(vm, statusKey, string(report))
}

// option is the value of one extraConfig key ("" when it is not set).
func option(vm *simulator.VirtualMachine, key string) string {
	if vm.Config == nil {
		return ""
	}
	for _, o := range vm.Config.ExtraConfig {
		if value := o.GetOptionValue(); value.Key == key {
			return fmt.Sprint(value.Value)
		}
	}
	return ""
}

// setOption sets one extraConfig key as a guest's "info-set" does, and tells watchers.
func (g *guests) setOption(vm *simulator.VirtualMachine, key, value string) {
	found := false
	for _, o := range vm.Config.ExtraConfig {
		if o.GetOptionValue().Key == key {
			o.GetOptionValue().Value = value
			found = true
		}
	}
	if !found {
		vm.Config.ExtraConfig = append(vm.Config.ExtraConfig, &types.OptionValue{Key: key, Value: value})
	}
	g.tell(vm)
}

func setTools(vm *simulator.VirtualMachine, heartbeat types.ManagedEntityStatus, running types.VirtualMachineToolsRunningStatus) {
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "guestHeartbeatStatus", Val: heartbeat},
		{Name: "summary.quickStats.guestHeartbeatStatus", Val: heartbeat},
		{Name: "guest.toolsRunningStatus", Val: string(running)},
	})
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
