//! API keys and usage plans (REST APIs).
