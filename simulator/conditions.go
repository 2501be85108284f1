// Conditions of real hosts that vcsim does not play by itself: the free vSphere
// Hypervisor licence (a read-only API) and a datastore of a chosen size.
package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/types"
)

// freeLicense is what the LicenseManager of a host with the free vSphere Hypervisor
// licence reports: edition key "esxBasic" (the key scripts check to tell a free host,
// e.g. William Lam's virtuallyghetto ones), and no "vimapi" (vSphere API) feature, which
// paid editions list. The key is a placeholder, not a real one.
var freeLicense = types.LicenseManagerLicenseInfo{
	LicenseKey: "00000-00000-00000-00000-FREE0",
	EditionKey: "esxBasic",
	Name:       "VMware vSphere 7 Hypervisor",
	Properties: []types.KeyAnyValue{
		{Key: "ProductName", Value: "VMware ESX Server"},
		{Key: "ProductVersion", Value: "7.0"},
		{Key: "count_disabled", Value: "This license is unlimited"},
		{Key: "feature", Value: types.KeyValue{Key: "maxRAM:unlimited", Value: "Up to unlimited memory"}},
	},
}

// readMethods are the SOAP methods a free host still answers: logging in, reading
// properties, views and filters (session objects, not the inventory), browsing a
// datastore. Every other method is a write and fails with RestrictedVersion.
var readMethods = map[string]bool{
	"RetrieveServiceContent": true, "Login": true, "Logout": true, "SessionIsActive": true,
	"CurrentTime": true, "RetrieveProperties": true, "RetrievePropertiesEx": true,
	"ContinueRetrievePropertiesEx": true, "CancelRetrievePropertiesEx": true,
	"CreateContainerView": true, "CreateListView": true, "DestroyView": true,
	"CreateFilter": true, "DestroyPropertyFilter": true, "WaitForUpdates": true,
	"WaitForUpdatesEx": true, "CheckForUpdates": true, "CancelWaitForUpdates": true,
	"CreatePropertyCollector": true, "DestroyPropertyCollector": true, "Fetch": true,
	"SearchDatastore_Task": true, "SearchDatastoreSubFolders_Task": true,
}

const restrictedFault = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
	`xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
	`<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode>` +
	`<faultstring>Current license or ESXi version prohibits execution of the requested operation.</faultstring>` +
	`<detail><RestrictedVersionFault xmlns="urn:vim25" xsi:type="RestrictedVersion"></RestrictedVersionFault>` +
	`</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`

// playFreeLicense makes the host report the free licence and refuse every write.
func playFreeLicense(server *simulator.Server) {
	lm := simulator.Map.Get(*esx.ServiceContent.LicenseManager).(*simulator.LicenseManager)
	lm.Licenses = []types.LicenseManagerLicenseInfo{freeLicense}
	inner := server.Config.Handler
	// Set before the address is printed, so before any client can connect.
	server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/sdk") {
			inner.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if method := soapMethod(body); method != "" && !readMethods[method] {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, restrictedFault)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		inner.ServeHTTP(w, r)
	})
}

// soapMethod is the name of the first element inside the SOAP Body.
func soapMethod(body []byte) string {
	decoder := xml.NewDecoder(bytes.NewReader(body))
	inBody := false
	for {
		token, err := decoder.Token()
		if err != nil {
			return ""
		}
		if start, ok := token.(xml.StartElement); ok {
			if inBody {
				return start.Name.Local
			}
			inBody = start.Name.Local == "Body"
		}
	}
}

// setDatastoreCapacity makes the host's datastore report this size, all of it free
// (vcsim otherwise reports the size of the file system its folder is on).
func setDatastoreCapacity(size int64) {
	for _, entity := range simulator.Map.All("Datastore") {
		ds := entity.(*simulator.Datastore)
		simulator.Map.WithLock(ds, func() {
			ds.Summary.Capacity, ds.Summary.FreeSpace = size, size
			ds.Info.GetDatastoreInfo().FreeSpace = size
		})
	}
}

// parseSize reads 500M, 40G, 1T or a number of bytes.
func parseSize(text string) (int64, error) {
	units := map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
	text = strings.ToUpper(strings.TrimSpace(text))
	scale := int64(1)
	if n := len(text); n > 0 && units[text[n-1]] != 0 {
		scale, text = units[text[n-1]], text[:n-1]
	}
	value, err := strconv.ParseFloat(text, 64)
	if err != nil || value <= 0 {
		return 0, fmt.Errorf("want a size like 40G, got %q", text)
	}
	return int64(value * float64(scale)), nil
}
