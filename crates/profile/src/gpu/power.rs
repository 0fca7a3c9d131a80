//! NVML: energy counter, power, SM clock, limits (loaded at run time by nvml-wrapper).

use super::ProfileError;
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::Clock;

/// An NVML session bound to the CUDA device being profiled (matched by UUID).
pub struct Power {
    nvml: Nvml,
    uuid: String,
}

fn nv<T>(call: &str, r: Result<T, nvml_wrapper::error::NvmlError>) -> Result<T, ProfileError> {
    r.map_err(|e| ProfileError::Cuda { call: call.to_string(), detail: e.to_string() })
}

impl Power {
    /// Opens NVML for the device with this UUID (`GPU-xxxxxxxx-...`).
    pub fn open(uuid: &str) -> Result<Self, ProfileError> {
        let nvml = nv("nvmlInit", Nvml::init())?;
        let p = Power { nvml, uuid: uuid.to_string() };
        p.device()?;
        Ok(p)
    }

    fn device(&self) -> Result<nvml_wrapper::Device<'_>, ProfileError> {
        nv("nvmlDeviceGetHandleByUUID", self.nvml.device_by_uuid(self.uuid.as_str()))
    }

    /// Total energy since the driver loaded, joules.
    pub fn energy_j(&self) -> Result<f64, ProfileError> {
        Ok(nv("nvmlDeviceGetTotalEnergyConsumption", self.device()?.total_energy_consumption())? as f64 / 1e3)
    }

    /// Current SM clock, MHz.
    pub fn sm_clock_mhz(&self) -> Result<u32, ProfileError> {
        nv("nvmlDeviceGetClockInfo(SM)", self.device()?.clock_info(Clock::SM))
    }

    /// Current board power, watts.
    pub fn power_w(&self) -> Result<f64, ProfileError> {
        Ok(f64::from(nv("nvmlDeviceGetPowerUsage", self.device()?.power_usage())?) / 1e3)
    }

    /// Enforced power limit, watts.
    pub fn power_limit_w(&self) -> Result<f64, ProfileError> {
        Ok(f64::from(nv("nvmlDeviceGetEnforcedPowerLimit", self.device()?.enforced_power_limit())?) / 1e3)
    }

    /// Maximum SM and memory clocks, MHz.
    pub fn max_clocks_mhz(&self) -> Result<(u32, u32), ProfileError> {
        let d = self.device()?;
        Ok((
            nv("nvmlDeviceGetMaxClockInfo(SM)", d.max_clock_info(Clock::SM))?,
            nv("nvmlDeviceGetMaxClockInfo(MEM)", d.max_clock_info(Clock::Memory))?,
        ))
    }

    /// Driver version string.
    pub fn driver_version(&self) -> Result<String, ProfileError> {
        nv("nvmlSystemGetDriverVersion", self.nvml.sys_driver_version())
    }
}

/// Formats a CUDA device UUID the way NVML names it.
pub fn uuid_string(bytes: &[u8; 16]) -> String {
    let h: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}
