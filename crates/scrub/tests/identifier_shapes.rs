//! `scrub::normalize::ident`: names by shape (identifier or words), URL path segments by
//! shape, masked paths and route templates.

mod ident {
    use scrub::normalize::ident::{
        apply_route, is_identifier_shaped, is_technical_segment, mask_path,
    };

    #[test]
    fn identifier_shapes() {
        for s in [
            "app.tasks.reindex_documents",
            "reindex_documents",
            "ReindexDocumentsJob",
            "reindexDocuments",
            "GET /api/{id}",
            "POST /people/:slug/cv",
            "/api/documents/{owner}/",
            "hr.views.person_cv",
            "django.middleware.csrf.CsrfViewMiddleware.process_view",
            "documents/detail.html",
            "healthcheck",
            "Api::UsersController#show",
            "run_batch 42 {shard}",
        ] {
            assert!(is_identifier_shaped(s), "{s}");
        }
        for s in [
            "",
            "reindex document Zephyrine Canarywood Memoirs",
            "upload doc_8c21e0 by Zephyrine",
            "render search results",
            "zephyrine-canarywood",
            "Zéphyrine",
            "GET  /api",
            "a\tb",
            "one two_x three_y four_z five_w",
        ] {
            assert!(!is_identifier_shaped(s), "{s:?}");
        }
    }

    #[test]
    fn technical_segments() {
        for s in [
            "",
            "api",
            "v2",
            "users",
            "People",
            "42",
            "8c21e0f3",
            "doc_8c21e0",
            "3f2a1c9e-1b2d-4c3e-9f8a-7b6c5d4e3f2a",
            "{slug}",
            "<int:pk>",
            ":id",
            "*",
            "[id]",
            "main.8c21e0.js",
            "user-settings",
            "folder_tree",
            "getUserProfile",
            "categories",
        ] {
            assert!(is_technical_segment(s), "{s}");
        }
        for s in [
            "zephyrine",
            "zephyrine-canarywood",
            "alice@example.com",
            "Zéphyrine",
            "john.smith",
            "zephyrine-cv.pdf",
            "a b",
        ] {
            assert!(!is_technical_segment(s), "{s}");
        }
    }

    #[test]
    fn paths_are_masked_by_segment() {
        assert_eq!(
            mask_path("http://127.0.0.1:8000/people/zephyrine-canarywood/cv/").as_deref(),
            Some("http://127.0.0.1:8000/people/*/cv/")
        );
        assert_eq!(
            mask_path("/u/alice%40example.com/orders/42").as_deref(),
            Some("/u/*/orders/42")
        );
        assert_eq!(mask_path("https://api.example.com/api/v2/orders/42"), None);
        // Idempotent: the mask itself is technical.
        assert_eq!(mask_path("/people/*/cv/"), None);
    }

    #[test]
    fn route_templates_replace_matching_paths_only() {
        let url = "https://hr.example.com/people/zephyrine-canarywood/cv/";
        assert_eq!(
            apply_route(url, "/people/{slug}/cv/").as_deref(),
            Some("https://hr.example.com/people/{slug}/cv/")
        );
        assert_eq!(
            apply_route(url, "GET /people/:slug/cv/").as_deref(),
            Some("https://hr.example.com/people/:slug/cv/")
        );
        assert_eq!(
            apply_route("/people/ann/cv/", "/people/<slug>/cv/").as_deref(),
            Some("/people/<slug>/cv/")
        );
        assert_eq!(apply_route(url, "/people/{slug}/"), None);
        assert_eq!(apply_route(url, "/teams/{slug}/cv/"), None);
        assert_eq!(
            apply_route("https://hr.example.com/people//cv/", "/people/{slug}/cv/"),
            None
        );
        // The template is the path itself: nothing to mask.
        assert_eq!(
            apply_route("/letters", "/letters").as_deref(),
            Some("/letters")
        );
        assert_eq!(apply_route(url, "hr.views.cv"), None);
    }
}
