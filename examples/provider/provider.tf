provider "photon" {
  host {
    name       = "esx-1"
    address    = "10.0.0.11"
    password   = var.esx_password
    thumbprint = "7A:1F:0C:8B:2D:44:95:E3:6A:10:7F:C2:9B:58:D1:03:4E:AA:61:F7:0B:39:C5:82:1D:6E:94:B7:20:5F:E8:C2"
  }
  host {
    name       = "esx-2"
    address    = "10.0.0.12"
    password   = var.esx_password
    thumbprint = "3C:90:5B:E1:07:AF:42:6D:C8:19:F3:7E:0A:B5:64:2D:91:CE:58:03:BB:7A:16:E4:2F:D9:80:4C:A3:15:6B:F0"
  }
}

variable "esx_password" {
  type      = string
  sensitive = true
}
