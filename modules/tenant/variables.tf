variable "name" {
  description = "Name of the tenant: lowercase letters, digits and hyphens, starting with a letter."
  type        = string
  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "A tenant name starts with a lowercase letter, holds only lowercase letters, digits and hyphens, does not end with a hyphen, and is at most 63 characters long."
  }
}

variable "description" {
  description = "Free text describing the tenant."
  type        = string
  default     = null
}

variable "hosts" {
  description = "Names of the provider's hosts the tenant spans; null for all."
  type        = set(string)
  default     = null
}

variable "quota" {
  description = "The tenant's limits; null for no quota. Each limit unset is unlimited."
  type = object({
    vm_count  = optional(number)
    vcpu      = optional(number)
    memory_gb = optional(number)
    disk_gb   = optional(number)
  })
  default = null
  validation {
    condition = var.quota == null ? true : alltrue([
      for v in values(var.quota) : v == null ? true : v >= 0
    ])
    error_message = "Quota limits cannot be negative."
  }
}
