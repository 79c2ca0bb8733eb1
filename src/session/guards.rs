//! Guards that enforce: a logged-in user, and a valid CSRF token.

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::form::name::NameView;
use rocket::form::{Form, FromForm, ValueField};
use rocket::http::RawStr;
use rocket::http::{Method, Status};
use rocket::outcome::try_outcome;
use rocket::request::{self, local_cache_once, FromRequest, Outcome};
use rocket::{Ignite, Request, Rocket, Sentinel};

use crate::paths::{CSRF_FIELD, CSRF_HEADER};
use crate::secret;
use crate::session::{fairing_missing, Session};

/// A logged-in user with a live session.
///
/// Without one, the guard forwards with `401 Unauthorized`, so a `rank`ed
/// fallback route or the crate's 401 catcher (see [`catchers`](crate::catchers))
/// answers: JSON for background requests, a login redirect for browsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The id given to [`Session::login`].
    pub user_id: String,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authenticated {
    type Error = crate::Error;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let session = try_outcome!(request.guard::<Session<'_>>().await);
        match session.user_id() {
            Some(user_id) => Outcome::Success(Authenticated { user_id }),
            None => Outcome::Forward(Status::Unauthorized),
        }
    }
}

impl Sentinel for Authenticated {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket)
    }
}

/// [`Authenticated`] for a route that is an API: without a live session
/// the 401 catcher answers JSON (`{"error":…}`) whatever the request's
/// headers say, where a plain `curl` to an [`Authenticated`] route would
/// get a redirect to the login page.
///
/// ```
/// # use rocket::get;
/// use rocket_session_security::AuthenticatedApi;
///
/// #[get("/api/me")]
/// fn me(user: AuthenticatedApi) -> String {
///     user.user_id
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedApi {
    /// The id given to [`Session::login`].
    pub user_id: String,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthenticatedApi {
    type Error = crate::Error;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match request.guard::<Authenticated>().await {
            Outcome::Success(Authenticated { user_id }) => {
                Outcome::Success(AuthenticatedApi { user_id })
            }
            Outcome::Forward(status) => {
                crate::classify::answer_as_script(request);
                Outcome::Forward(status)
            }
            Outcome::Error(e) => Outcome::Error(e),
        }
    }
}

impl Sentinel for AuthenticatedApi {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket)
    }
}

/// Checks the session's CSRF token in the `X-CSRF-Token` header on unsafe
/// methods (anything but GET, HEAD, OPTIONS); fails with `403 Forbidden`.
/// For HTML forms use [`CsrfForm`], which also reads the `csrf_token` field.
#[derive(Debug, Clone, Copy)]
pub struct CsrfChecked(());

/// Why a CSRF check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfError {
    /// No token was sent.
    Missing,
    /// The token sent is not this session's.
    Mismatch,
}

fn is_safe(method: Method) -> bool {
    matches!(method, Method::Get | Method::Head | Method::Options)
}

/// Compares `sent` with the session's token without creating a session.
fn check(session: &Session<'_>, sent: Option<&str>) -> Result<(), CsrfError> {
    let request = session.request();
    let mut state = request.lock();
    // Without a stored session, the visitor's token is in its own cookie;
    // a token chosen by this very request is one no page has seen.
    let expected = match state.stored_record() {
        Some(record) => Some(record.csrf_token.as_str()),
        None => request.visitor_csrf.as_deref(),
    };
    let verdict = match (sent, expected) {
        (None, _) => Err(CsrfError::Missing),
        (Some(sent), Some(expected)) => secret::same_csrf(expected, sent)
            .then_some(())
            .ok_or(CsrfError::Mismatch),
        (Some(_), None) => Err(CsrfError::Mismatch),
    };
    if verdict.is_err() {
        state.refuse_activity();
    }
    verdict
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CsrfChecked {
    type Error = CsrfError;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        if is_safe(request.method()) {
            return Outcome::Success(CsrfChecked(()));
        }
        let session = match request.guard::<Session<'_>>().await {
            Outcome::Success(session) => session,
            Outcome::Error((status, _)) => return Outcome::Error((status, CsrfError::Missing)),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        match check(&session, request.headers().get_one(CSRF_HEADER)) {
            Ok(()) => Outcome::Success(CsrfChecked(())),
            Err(e) => Outcome::Error((Status::Forbidden, e)),
        }
    }
}

impl Sentinel for CsrfChecked {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket)
    }
}

/// A URL-encoded form whose `csrf_token` field (or `X-CSRF-Token` header)
/// must match the session's token; otherwise `403 Forbidden` and the handler
/// never runs. Derefs to the parsed `T`, which need not declare the field.
///
/// ```
/// # use rocket::{post, FromForm};
/// use rocket_session_security::{Authenticated, CsrfForm};
///
/// #[derive(FromForm)]
/// struct Note { text: String }
///
/// #[post("/notes", data = "<note>")]
/// fn add(_user: Authenticated, note: CsrfForm<Note>) -> String {
///     note.into_inner().text
/// }
/// ```
#[derive(Debug)]
pub struct CsrfForm<T>(T);

impl<T> CsrfForm<T> {
    /// The parsed form.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for CsrfForm<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Sentinel for CsrfForm<T> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket)
    }
}

/// The form of a POST that carries nothing but its CSRF token, such as a
/// logout or delete button: `CsrfForm<NoFields>` checks the token (field
/// or header) and nothing else. Other fields are ignored.
///
/// ```
/// # use rocket::post;
/// use rocket::response::Redirect;
/// use rocket_session_security::{CsrfForm, NoFields, Session};
///
/// #[post("/logout", data = "<_form>")]
/// async fn logout(_form: CsrfForm<NoFields>, session: Session<'_>) -> Redirect {
///     session.logout().await.ok();
///     Redirect::to("/login")
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoFields;

#[rocket::async_trait]
impl<'r> FromForm<'r> for NoFields {
    type Context = ();

    fn init(_: rocket::form::Options) {}

    fn push_value(_: &mut (), _: ValueField<'r>) {}

    async fn push_data(_: &mut (), _: rocket::form::DataField<'r, '_>) {}

    fn finalize(_: ()) -> rocket::form::Result<'r, Self> {
        Ok(NoFields)
    }
}

/// Why a [`CsrfForm`] was refused.
#[derive(Debug)]
pub enum CsrfFormError<'r> {
    /// The CSRF token was missing or wrong.
    Csrf(CsrfError),
    /// The body could not be read.
    Io(std::io::Error),
    /// The body was larger than the `form` limit.
    TooLarge,
    /// The fields did not parse into the form type.
    Form(rocket::form::Errors<'r>),
}

#[rocket::async_trait]
impl<'r, T: FromForm<'r>> FromData<'r> for CsrfForm<T> {
    type Error = CsrfFormError<'r>;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        use rocket::outcome::Outcome::{Error, Success};
        let session = match request.guard::<Session<'_>>().await {
            Success(session) => session,
            // The store is down (503) or the fairing is missing (500).
            Error((status, _)) => return Error((status, CsrfFormError::Csrf(CsrfError::Missing))),
            rocket::outcome::Outcome::Forward(status) => {
                return rocket::outcome::Outcome::Forward((data, status))
            }
        };
        let limit = request.limits().get("form").unwrap_or(32.kibibytes());
        let body = match data.open(limit).into_string().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return Error((Status::PayloadTooLarge, CsrfFormError::TooLarge)),
            Err(e) => return Error((Status::BadRequest, CsrfFormError::Io(e))),
        };
        let fields: &'r Vec<(String, String)> = local_cache_once!(request, decode_fields(&body));
        let field = fields.iter().find(|(name, _)| name == CSRF_FIELD);
        let sent = field.map(|(_, value)| value.as_str());
        let sent = sent.or_else(|| request.headers().get_one(CSRF_HEADER));
        if let Err(e) = check(&session, sent) {
            return Error((Status::Forbidden, CsrfFormError::Csrf(e)));
        }
        let values = fields.iter().map(|(name, value)| ValueField {
            name: NameView::new(name.as_str()),
            value: value.as_str(),
        });
        match Form::<T>::parse_iter(values) {
            Ok(value) => Success(CsrfForm(value)),
            Err(e) => Error((Status::UnprocessableEntity, CsrfFormError::Form(e))),
        }
    }
}

/// Splits and percent-decodes an `application/x-www-form-urlencoded` body.
fn decode_fields(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        RawStr::new(&s.replace('+', " "))
            .url_decode_lossy()
            .into_owned()
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}
